"""Static limits checked before execution: depth, aliases and cost.

Depth and aliases depend only on the document and are computed once per cached document.
Cost depends on page sizes, which may come from variables, so it is computed per request:
each selected field costs 1, times the product of the page sizes of the lists around it
(`first`/`last`, the default page size when neither is given, the length of `ids`). That is
an upper bound on the number of values the response can hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.language import ValueNode
from strawberry.types.base import StrawberryObjectDefinition

from backend.errors import QueryTooComplex


@dataclass(frozen=True, slots=True)
class Shape:
    depth: int
    aliases: int


def shape(operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]) -> Shape:
    """Depth and alias count of an operation, fragments expanded where they are spread."""
    aliases = 0

    def walk(selection_set: SelectionSetNode, depth: int, seen: frozenset[str]) -> int:
        nonlocal aliases
        deepest = depth
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.alias is not None:
                    aliases += 1
                if selection.selection_set is not None:
                    deepest = max(deepest, walk(selection.selection_set, depth + 1, seen))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, walk(selection.selection_set, depth, seen))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    deepest = max(deepest, walk(fragment.selection_set, depth, seen | {name}))
        return deepest

    return Shape(depth=walk(operation.selection_set, 1, frozenset()), aliases=aliases)


def check_shape(found: Shape, *, max_depth: int, max_aliases: int) -> None:
    if found.depth > max_depth:
        raise QueryTooComplex(
            f"query depth {found.depth} exceeds the limit of {max_depth}", depth=found.depth, limit=max_depth
        )
    if found.aliases > max_aliases:
        raise QueryTooComplex(
            f"query uses {found.aliases} aliases, the limit is {max_aliases}", aliases=found.aliases, limit=max_aliases
        )


# Strawberry field metadata key: the size a cost estimate assumes for a list field that takes
# no page size (e.g. the reasons of a duplicate link, a handful at most).
LIST_SIZE = "rapport.list_size"


def list_sizes(schema: strawberry.Schema) -> dict[tuple[str, str], int]:
    """(type, field) -> assumed length, for every list field that declares one."""
    sizes = {}
    for concrete in schema.schema_converter.type_map.values():
        definition = concrete.definition
        if isinstance(definition, StrawberryObjectDefinition):
            for field in definition.fields:
                if LIST_SIZE in field.metadata:
                    name = field.graphql_name or schema.config.name_converter.get_graphql_name(field)
                    sizes[(definition.name, name)] = field.metadata[LIST_SIZE]
    return sizes


def estimate_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    *,
    page_default: int,
    page_max: int,
    sizes: Mapping[tuple[str, str], int] | None = None,
) -> int:
    root = schema.get_root_type(operation.operation)
    assert root is not None

    def page_size(parent: GraphQLNamedType, field: FieldNode, field_type: GraphQLOutputType) -> int:
        declared = (sizes or {}).get((parent.name, field.name.value))
        if declared is not None:
            return declared
        args = {arg.name.value: arg.value for arg in field.arguments or ()}
        for name in ("first", "last"):
            if name in args:
                value = _value(args[name], variables)
                if isinstance(value, int) and value >= 0:
                    return min(value, page_max)
        if "ids" in args:
            ids = _value(args["ids"], variables)
            return len(ids) if isinstance(ids, list) else page_max
        named = get_named_type(field_type)
        if named.name.endswith("Connection"):
            return page_default
        if _is_list(field_type):
            return page_default
        return 1

    def walk(selection_set: SelectionSetNode, parent: GraphQLNamedType, multiplier: int, seen: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__"):
                    continue
                fields = getattr(parent, "fields", None)
                field_def = fields.get(name) if fields else None
                if field_def is None:
                    continue
                total += multiplier
                if selection.selection_set is not None:
                    # A connection's page size already counts its edges/nodes lists.
                    size = 1 if parent.name.endswith("Connection") else page_size(parent, selection, field_def.type)
                    inner = multiplier * size
                    total += walk(selection.selection_set, get_named_type(field_def.type), inner, seen)
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = schema.get_type(selection.type_condition.name.value) or parent
                total += walk(selection.selection_set, target, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None and fragment.name.value not in seen:
                    target = schema.get_type(fragment.type_condition.name.value) or parent
                    total += walk(fragment.selection_set, target, multiplier, seen | {fragment.name.value})
        return total

    return walk(operation.selection_set, root, 1, frozenset())


def check_cost(cost: int, limit: int) -> None:
    if cost > limit:
        raise QueryTooComplex(f"query cost {cost} exceeds the limit of {limit}", cost=cost, limit=limit)


def _value(node: ValueNode, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, ListValueNode):
        return list(node.values)
    return None


def _is_list(field_type: GraphQLOutputType) -> bool:
    while isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    return isinstance(field_type, GraphQLList)
