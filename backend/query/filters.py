"""The filter language, independent of GraphQL: plain immutable trees over entity fields.

GraphQL `<Type>Filter` inputs, record scopes from access control and services all produce
these; `backend.query.sql` turns them into parameterised SQL. Field names are model field
names (`owner_id`, `status`); relation names are model relation names (`account`, `tickets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    CONTAINS = "contains"  # case-insensitive substring
    STARTS_WITH = "starts_with"  # case-insensitive prefix
    IS_NULL = "is_null"  # value: bool


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: Op
    value: Any


@dataclass(frozen=True, slots=True)
class CustomField:
    """A tenant-defined field inside `custom_fields`; `kind` is its declared type."""

    key: str
    kind: str  # text | number | date | bool | enum
    op: Op
    value: Any


@dataclass(frozen=True, slots=True)
class Related:
    """To-one: the related row matches. To-many: at least one related row matches."""

    relation: str
    filter: Filter


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Filter


@dataclass(frozen=True, slots=True)
class Nothing:
    """Matches no row (e.g. a record scope that grants nothing)."""


Filter = Compare | CustomField | Related | And | Or | Not | Nothing


def all_of(*items: Filter | None) -> Filter | None:
    present = tuple(item for item in items if item is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else And(present)
