"""Parsed and validated documents, cached by their source text.

Front ends send the same few documents over and over, so parsing, validation and the
static shape (depth, aliases) are paid once per distinct document. The cache is a bounded
LRU: random documents from a hostile client evict each other, not the working set.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule

from schema.limits import Shape, shape


@dataclass(slots=True)
class PreparedDocument:
    source: str
    document: DocumentNode | None
    errors: list[GraphQLError]
    operations: dict[str | None, OperationDefinitionNode] = field(default_factory=dict)
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)
    shapes: dict[str | None, Shape] = field(default_factory=dict)
    # Per-operation memo for later stages (compiled plans, policy decisions), keyed by them.
    memo: dict[Any, Any] = field(default_factory=dict)

    def operation(self, name: str | None) -> OperationDefinitionNode:
        if name is None:
            if len(self.operations) == 1:
                return next(iter(self.operations.values()))
            raise GraphQLError("the document has several operations: pass operationName")
        found = self.operations.get(name)
        if found is None:
            raise GraphQLError(f"unknown operation named '{name}'")
        return found


class DocumentCache:
    def __init__(self, schema: GraphQLSchema, *, max_tokens: int, introspection: bool, size: int = 2_000) -> None:
        self._schema = schema
        self._max_tokens = max_tokens
        self._rules = list(specified_rules)
        if not introspection:
            self._rules.append(NoSchemaIntrospectionCustomRule)
        self._size = size
        self._entries: OrderedDict[str, PreparedDocument] = OrderedDict()

    def get(self, source: str) -> PreparedDocument:
        entry = self._entries.get(source)
        if entry is not None:
            self._entries.move_to_end(source)
            return entry
        entry = self._prepare(source)
        self._entries[source] = entry
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return entry

    def _prepare(self, source: str) -> PreparedDocument:
        try:
            document = parse(source, no_location=False, max_tokens=self._max_tokens)
        except GraphQLError as error:
            return PreparedDocument(source, None, [error])
        errors = validate(self._schema, document, self._rules)
        if errors:
            return PreparedDocument(source, document, errors)
        prepared = PreparedDocument(source, document, [])
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                name = definition.name.value if definition.name else None
                prepared.operations[name] = definition
            elif isinstance(definition, FragmentDefinitionNode):
                prepared.fragments[definition.name.value] = definition
        for name, operation in prepared.operations.items():
            prepared.shapes[name] = shape(operation, prepared.fragments)
        return prepared
