"""Relay global object identification: opaque ids that name their type."""

from __future__ import annotations

import base64
import binascii
from uuid import UUID

import strawberry

from backend.errors import BadInput
from backend.ids import global_id


@strawberry.interface(description="An object with a globally unique, opaque id.")
class Node:
    id: strawberry.ID


def to_global_id(type_name: str, pk: UUID) -> strawberry.ID:
    return strawberry.ID(global_id(type_name, pk))


def from_global_id(value: str, *, expected: str | None = None, field: str = "id") -> tuple[str, UUID]:
    """Decode a global id; a malformed one (or one of the wrong type) is BAD_USER_INPUT."""
    try:
        type_name, _, raw = base64.b64decode(value, validate=True).decode().partition(":")
        pk = UUID(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInput("not a valid id", field=field) from None
    if expected is not None and type_name != expected:
        raise BadInput(f"expected the id of a {expected}", field=field)
    return type_name, pk
