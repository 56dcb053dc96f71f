"""Which root fields of a mutation carry an `idempotencyKey`, and what identifies their request.

The request hash covers the field, its arguments (variables substituted) and its selection,
so a retry must ask exactly the same thing to get the first response back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    print_ast,
    value_from_ast_untyped,
)

from backend.errors import BadInput


@dataclass(frozen=True, slots=True)
class KeyedField:
    response_key: str
    key: str
    request_hash: str


def root_fields(operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]) -> list[FieldNode]:
    found: list[FieldNode] = []

    def walk(selections: Any) -> None:
        for selection in selections:
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set.selections)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
                walk(fragments[selection.name.value].selection_set.selections)

    walk(operation.selection_set.selections)
    return found


def keyed_fields(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode], variables: Mapping[str, Any]
) -> tuple[list[FieldNode], list[KeyedField]]:
    """All root fields, and those with an idempotency key (with their request hashes)."""
    fields = root_fields(operation, fragments)
    keyed = []
    for field in fields:
        arguments = {a.name.value: value_from_ast_untyped(a.value, dict(variables)) for a in field.arguments or ()}
        key = arguments.pop("idempotencyKey", None)
        if key is None:
            continue
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise BadInput("an idempotencyKey has 1 to 255 characters", field="idempotencyKey")
        digest = hashlib.sha256(
            orjson.dumps(
                [field.name.value, arguments, print_ast(field.selection_set) if field.selection_set else ""],
                option=orjson.OPT_SORT_KEYS,
                default=str,
            )
        ).hexdigest()
        response_key = field.alias.value if field.alias else field.name.value
        keyed.append(KeyedField(response_key, key, digest))
    return fields, keyed
