"""Compiled operations: one GraphQL query -> one SQL statement that builds the `data` JSON.

The planner walks the validated operation with the schema. Every field it can plan is turned
into SQL with the same builder the DataLoaders use (backend.query.sql: visibility, filters,
orderings, keyset cursors, record scopes), so both paths mean the same thing:

* columns become JSON values formatted exactly as the executor serialises them (enums upper
  case, decimals as text, global ids as base64 "Type:uuid", instants as ISO 8601 in UTC);
* to-one relations become scalar subqueries, to-many relations Relay connection subqueries
  (a LIMIT n+1 page numbered by row_number, aggregated with json_agg), `totalCount` and the
  other direction of `pageInfo` only when selected;
* aliases, fragments (named, inline, on interfaces), `__typename`, `@include`/`@skip`.

Plans are cached with the document, keyed by the operation, the *shape* of the variables
(which inputs are present, booleans, enum values, custom field keys: whatever changes the
SQL text) and the record scope. Every other value is a bind parameter resolved per request
(`Deferred`), so the statement is prepared once per connection and reused.

Writes (`plan_write`): a mutation operation of one CRUD field (schema/mutations.py) runs that
field's write function in Python, which holds every rule of a write, then one statement
builds the payload from the ids it wrote, with the same node planning as reads. The written
rows are shown whatever the caller's read scope (the executor shows them too); what they
lead to is scoped as every read is.

A field the planner does not know (computed in Python, `node`, several mutations in one
operation) makes the whole operation go through the Strawberry executor. Bad argument values
are found when a plan is bound (for a write, before anything is written); the executor then
answers, so errors look the same on both paths.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, cast

import strawberry
from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    value_from_ast,
)
from strawberry.types.base import StrawberryObjectDefinition

from backend.errors import BadInput
from backend.naming import camel, snake
from backend.query.entities import Entity, Kind, entity
from backend.query.reads import PageRequest
from backend.query.sql import PLACEHOLDER, Deferred, Ordering, Query, Scope, decode_cursor
from schema.fields import PLAN, computed_fields
from schema.filters import custom_field_entities, to_filter, to_ordering
from schema.relay import from_global_id

MAX_KEYS = 50  # json_build_object takes 100 arguments
log = logging.getLogger("rapport.compiler")


class NotCompilable(Exception):
    """The operation uses something only the executor can answer."""


@dataclass(frozen=True, slots=True)
class Plan:
    sql: str
    params: tuple[Any, ...]  # constants and Deferred values (resolved with the request's env)

    def bind(self, env: Mapping[str, Any]) -> list[Any]:
        return [p.resolve(env) if isinstance(p, Deferred) else p for p in self.params]


@dataclass(frozen=True, slots=True)
class WritePlan:
    """A mutation of one write field: run `write`, then `payload` (bound with the written row
    ids as env "ids" and the coerced arguments as env "arguments") builds its JSON."""

    key: str  # the field's response key
    field: FieldNode  # its arguments and, for errors, its location
    definition: GraphQLField
    write: Any  # schema.mutations.Write (this module does not depend on the mutation layer)
    payload: Plan
    plain: PlainWritePlan | None = None


@dataclass(frozen=True, slots=True)
class PlainWritePlan:
    """A write field that can be one INSERT, with a payload that reads nothing of the written
    table but the new row: the payload over the CTE `written` instead, to run in the same
    statement as the INSERT (backend/records.py PlainCreate)."""

    write: Any  # schema.mutations.PlainWrite
    payload: Plan


def variable_shape(value: Any, key: str = "") -> Any:
    """What of a variable's value decides the SQL text (see the module docstring)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return tuple(sorted((k, variable_shape(v, k)) for k, v in value.items() if v is not None))
    if isinstance(value, list):
        if not value or isinstance(value[0], Mapping | list):
            return tuple(variable_shape(v) for v in value)
        return "list"
    if isinstance(value, bool | Enum) or key in _STRUCTURAL_KEYS:
        return value
    return "value"


# Input fields whose string value is part of the SQL text, not a parameter.
_STRUCTURAL_KEYS = frozenset({"key", "customField"})


def _var(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda env: env["variables"].get(name)


def _at(getter: Callable[[Mapping[str, Any]], Any], key: str | int) -> Callable[[Mapping[str, Any]], Any]:
    return lambda env: getter(env)[key]


class Compiler:
    def __init__(self, schema: strawberry.Schema, *, page_default: int, page_max: int) -> None:
        self.schema = schema
        self.graphql_schema: GraphQLSchema = schema._schema
        self.page_default = page_default
        self.page_max = page_max
        self._meta: dict[tuple[str, str], Any] = {}
        for type_definition in schema.schema_converter.type_map.values():
            definition = type_definition.definition
            if isinstance(definition, StrawberryObjectDefinition):
                for strawberry_field in definition.fields:
                    name = strawberry_field.graphql_name or camel(strawberry_field.python_name)
                    self._meta[(definition.name, name)] = strawberry_field

    def plan(
        self,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        scope: Scope | None,
        custom_kinds: Mapping[str, Mapping[str, str]],
    ) -> Plan:
        """Plan a query operation; raises NotCompilable when the executor must answer it."""
        planner = _Planner(self, fragments, variables, scope, custom_kinds)
        root = self.graphql_schema.query_type
        assert root is not None
        with _planning():
            pairs = [
                (key, planner.root_field(root, nodes))
                for key, nodes in planner.collect(root, operation.selection_set).items()
            ]
        return _compact(f"SELECT ({_object(pairs)})::text", planner.q.params.values)

    def plan_write(
        self,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        scope: Scope | None,
        custom_kinds: Mapping[str, Mapping[str, str]],
    ) -> WritePlan:
        """Plan a mutation operation of one write field (schema/mutations.py): the write runs in
        Python, then one statement builds the payload from what it wrote. Raises NotCompilable
        when the executor must answer (several fields, payload fields computed in Python)."""
        planner = _Planner(self, fragments, variables, scope, custom_kinds)
        root = self.graphql_schema.mutation_type
        assert root is not None
        fields = planner.collect(root, operation.selection_set)
        if len(fields) != 1:
            raise NotCompilable("a mutation operation of several fields")
        ((key, nodes),) = fields.items()
        node = nodes[0]
        name = node.name.value
        if len(nodes) > 1 or name == "__typename":
            raise NotCompilable(name)
        meta = planner.plan_meta(root.name, name)
        if meta[0] != "write":
            raise NotCompilable(name)
        payload_type = get_named_type(root.fields[name].type)
        assert isinstance(payload_type, GraphQLObjectType)

        def payload(from_cte: bool) -> Plan:
            planner = _Planner(self, fragments, variables, scope, custom_kinds, written_cte=from_cte)
            with _planning():
                pairs = [
                    (sub_key, planner.payload_field(payload_type, sub_nodes))
                    for sub_key, sub_nodes in planner.collect(payload_type, planner.merged(nodes)).items()
                ]
            if from_cte and entity(meta[2]).table in planner.q.tables:
                raise NotCompilable("the payload reads the written table beyond the new row")
            return _compact(f"SELECT ({_object(pairs)})::text", planner.q.params.values)

        plain = None
        if meta[3] is not None:
            with suppress(NotCompilable):
                plain = PlainWritePlan(meta[3], payload(from_cte=True))
        return WritePlan(key, node, root.fields[name], meta[1], payload(from_cte=False), plain)

    def custom_field_needs(
        self, operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode], variables: Any
    ) -> set[str]:
        """Entities whose custom field kinds the plan needs (read before planning)."""
        planner = _Planner(self, fragments, variables, None, {})
        mutation = operation.operation is OperationType.MUTATION
        root = self.graphql_schema.mutation_type if mutation else self.graphql_schema.query_type
        assert root is not None
        found: set[str] = set()
        planner.walk_arguments(root, operation.selection_set, found)
        return found

    def strawberry_field(self, type_name: str, field_name: str) -> Any:
        return self._meta.get((type_name, field_name))


@contextmanager
def _planning() -> Iterator[None]:
    try:
        yield
    except (ValueError, BadInput) as exc:
        # A literal argument is invalid: the executor reports it the way it always does.
        raise NotCompilable(str(exc)) from None
    except NotCompilable:
        raise
    except Exception as exc:  # a planner bug must not fail the request: the executor answers it
        log.exception("could not plan an operation; the executor answers it")
        raise NotCompilable(str(exc)) from exc


def _compact(sql: str, values: list[Any]) -> Plan:
    """Drop the parameters of parts the planner left out (e.g. a page nobody reads) and renumber."""
    used = sorted({int(n) for n in PLACEHOLDER.findall(sql)})
    numbers = {old: new for new, old in enumerate(used, start=1)}
    return Plan(PLACEHOLDER.sub(lambda m: f"${numbers[int(m[1])]}", sql), tuple(values[i - 1] for i in used))


def _object(pairs: Iterable[tuple[str, str]]) -> str:
    pairs = list(pairs)
    if len(pairs) > MAX_KEYS:
        raise NotCompilable("too many fields in one object")
    if not pairs:
        return "json_build_object()"
    return "json_build_object(" + ", ".join(f"'{key}', {expr}" for key, expr in pairs) + ")"


@dataclass
class _Page:
    """A connection's arguments, translated."""

    request: PageRequest  # size, direction, ordering, filter (values possibly Deferred)
    size: Any  # int or Deferred
    after: list[Any] | None
    before: list[Any] | None


@dataclass
class _Planner:
    compiler: Compiler
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    scope: Scope | None
    custom_kinds: Mapping[str, Mapping[str, str]]
    written_cte: bool = False  # a write payload's row is the CTE `written` (PlainWritePlan)
    q: Query = field(init=False)

    def __post_init__(self) -> None:
        self.q = Query(Deferred(lambda env: env["tenant_id"]), self.scope)

    # -- selections -------------------------------------------------------------------------

    def collect(self, parent: GraphQLObjectType, selection_set: SelectionSetNode) -> dict[str, list[FieldNode]]:
        """Fields by response key, fragments expanded where they apply to `parent`."""
        found: dict[str, list[FieldNode]] = {}

        def walk(selections: SelectionSetNode, seen: frozenset[str]) -> None:
            for selection in selections.selections:
                if not self._included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    found.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if selection.type_condition is None or self._applies(selection.type_condition.name.value, parent):
                        walk(selection.selection_set, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    fragment = self.fragments.get(selection.name.value)
                    if (
                        fragment is not None
                        and fragment.name.value not in seen
                        and self._applies(fragment.type_condition.name.value, parent)
                    ):
                        walk(fragment.selection_set, seen | {fragment.name.value})

        walk(selection_set, frozenset())
        return found

    def _applies(self, condition: str, parent: GraphQLObjectType) -> bool:
        if condition == parent.name:
            return True
        target = self.compiler.graphql_schema.get_type(condition)
        return isinstance(target, GraphQLInterfaceType) and target in parent.interfaces

    def _included(self, selection: Any) -> bool:
        for directive in selection.directives or ():
            name = directive.name.value
            if name not in ("include", "skip"):
                continue
            argument = next(a for a in directive.arguments if a.name.value == "if")
            value = (
                self.variables.get(argument.value.name.value)
                if isinstance(argument.value, VariableNode)
                else isinstance(argument.value, BooleanValueNode) and argument.value.value
            )
            if (name == "include") != bool(value):
                return False
        return True

    @staticmethod
    def merged(nodes: list[FieldNode]) -> SelectionSetNode:
        selections = [s for node in nodes if node.selection_set for s in node.selection_set.selections]
        return SelectionSetNode(selections=tuple(selections))

    # -- root fields ------------------------------------------------------------------------

    def root_field(self, root: GraphQLObjectType, nodes: list[FieldNode]) -> str:
        node = nodes[0]
        name = node.name.value
        if name == "__typename":
            return f"'{root.name}'"
        meta = self.plan_meta(root.name, name)
        field_type = root.fields[name].type
        if meta[0] == "root_one":
            target = entity(meta[1])
            id_value = self._argument(root, node, "id")
            pk = self._convert(id_value, lambda v: from_global_id(v, expected=target.name)[1])
            alias = self.q.alias()
            condition = f"{alias}.id = {self.q.param(pk, 'uuid')}"
            return self._row_object(target, alias, get_named_type(field_type), nodes, condition)
        if meta[0] == "root_many":
            return self._connection(root, nodes, entity(meta[1]), None)
        raise NotCompilable(name)

    def payload_field(self, payload_type: GraphQLObjectType, nodes: list[FieldNode]) -> str:
        """A field of a write's payload: the written row(s) as nodes, or an argument echoed."""
        name = nodes[0].name.value
        if name == "__typename":
            return f"'{payload_type.name}'"
        meta = self.plan_meta(payload_type.name, name)
        field_type = payload_type.fields[name].type
        if meta[0] == "written":
            # The row the caller just wrote, whatever their read scope (the executor returns it
            # as written); what it leads to is scoped as every read is.
            target = entity(meta[1])
            alias = self.q.alias()
            body = self._node_json(target, alias, get_named_type(field_type), self.merged(nodes))
            if self.written_cte:
                return f"(SELECT {body} FROM written {alias})"
            pk = self.q.param(Deferred(lambda env: env["ids"][0]), "uuid")
            where = f"{alias}.id = {pk} AND {self.q.visible(target, alias, scoped=False)}"
            return f"(SELECT {body} FROM {target.table} {alias} WHERE {where})"
        if meta[0] == "written_list":
            if self.written_cte:
                raise NotCompilable("a list of written rows")
            target = entity(meta[1])
            alias, w = self.q.alias(), self.q.alias("w")
            ids = self.q.param(Deferred(lambda env: env["ids"]), "uuid[]")
            body = self._node_json(target, alias, get_named_type(field_type), self.merged(nodes))
            return (
                f"(SELECT coalesce(json_agg({body} ORDER BY {w}.o), '[]') "
                f"FROM unnest({ids}) WITH ORDINALITY {w}(id, o) JOIN {target.table} {alias} ON {alias}.id = {w}.id "
                f"WHERE {self.q.visible(target, alias, scoped=False)})"
            )
        if meta[0] == "argument":
            argument = meta[1]
            nullable = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
            listed = isinstance(nullable, GraphQLList)
            value = self.q.param(Deferred(lambda env: env["arguments"][argument]), "text[]" if listed else "text")
            return f"to_json({value})"
        raise NotCompilable(f"{payload_type.name}.{name}")

    def plan_meta(self, type_name: str, field_name: str) -> tuple[Any, ...]:
        strawberry_field = self.compiler.strawberry_field(type_name, field_name)
        meta = strawberry_field.metadata.get(PLAN) if strawberry_field is not None else None
        if meta is None:
            raise NotCompilable(f"{type_name}.{field_name}")
        return cast(tuple[Any, ...], meta)

    # -- objects ----------------------------------------------------------------------------

    def _row_object(self, target: Entity, alias: str, object_type: Any, nodes: list[FieldNode], condition: str) -> str:
        """A scalar subquery: the JSON object of the one visible row matching `condition`, or null."""
        body = self._node_json(target, alias, object_type, self.merged(nodes))
        return f"(SELECT {body} FROM {target.table} {alias} WHERE {condition} AND {self.q.visible(target, alias)})"

    def _node_json(self, target: Entity, alias: str, object_type: Any, selection_set: SelectionSetNode) -> str:
        assert isinstance(object_type, GraphQLObjectType)
        pairs = []
        for key, nodes in self.collect(object_type, selection_set).items():
            pairs.append((key, self._node_field(target, alias, object_type, nodes)))
        return _object(pairs)

    def _node_field(self, target: Entity, alias: str, object_type: GraphQLObjectType, nodes: list[FieldNode]) -> str:
        name = nodes[0].name.value
        if name == "__typename":
            return f"'{object_type.name}'"
        if name == "id":
            return _global_id(target.name, alias)
        strawberry_field = self.compiler.strawberry_field(object_type.name, name)
        if strawberry_field is None:
            raise NotCompilable(f"{object_type.name}.{name}")
        meta = strawberry_field.metadata.get(PLAN)
        if meta is not None:
            field_type = object_type.fields[name].type
            if meta[0] == "one":
                relation = target.relations[meta[2]]
                related = entity(relation.target)
                sub = self.q.alias()
                condition = f"{sub}.id = {alias}.{target.column(relation.local).db}"
                return self._row_object(related, sub, get_named_type(field_type), nodes, condition)
            if meta[0] == "many":
                related = entity(target.relations[meta[2]].target)
                return self._connection(object_type, nodes, related, (target, alias, meta[2]))
            raise NotCompilable(name)
        computed = computed_fields(target.name).get(strawberry_field.python_name)
        if computed is not None:
            if callable(computed.sql):
                return computed.sql(alias)
            parts = computed.sql
            sub_type = get_named_type(object_type.fields[name].type)
            assert isinstance(sub_type, GraphQLObjectType)
            pairs = []
            for key, sub_nodes in self.collect(sub_type, self.merged(nodes)).items():
                sub_name = sub_nodes[0].name.value
                expr = f"'{sub_type.name}'" if sub_name == "__typename" else parts[snake(sub_name)](alias)
                pairs.append((key, expr))
            return _object(pairs)
        if strawberry_field.base_resolver is not None or strawberry_field.python_name not in target.columns:
            raise NotCompilable(f"{object_type.name}.{name}")
        return _column_json(target, alias, strawberry_field.python_name)

    # -- connections ------------------------------------------------------------------------

    def _connection(
        self,
        parent_type: GraphQLObjectType,
        nodes: list[FieldNode],
        target: Entity,
        parent: tuple[Entity, str, str] | None,
    ) -> str:
        """A Relay connection over `target`, of the row `parent` = (entity, alias, relation) or of the tenant."""
        node = nodes[0]
        page = self._page(parent_type, node, target)
        connection_type = get_named_type(parent_type.fields[node.name.value].type)
        assert isinstance(connection_type, GraphQLObjectType)
        a = self.q.alias()
        x = self.q.alias("x")

        def link(alias: str) -> str:
            """Rows of `alias` that belong to the parent row (nothing for a top-level list)."""
            if parent is None:
                return ""
            source, parent_alias, relation_name = parent
            relation = source.relations[relation_name]
            remote, local = target.column(relation.remote).db, source.column(relation.local).db
            return f"{alias}.{remote} = {parent_alias}.{local} AND "

        where = link(a) + self.q.visible(target, a, page.request.filter)
        keysets = []
        if page.after is not None:
            keysets.append(self.q.keyset(target, a, page.request.ordering, page.after, after=True))
        if page.before is not None:
            keysets.append(self.q.keyset(target, a, page.request.ordering, page.before, after=False))
        page_where = " AND ".join([where, *keysets])
        backward = page.request.backward
        order = self.q.order_by(target, a, page.request.ordering, reverse=backward)
        size = self.q.param(page.size, "int")
        selected = self.collect(connection_type, self.merged(nodes))
        # One row beyond the page tells whether there is more in the direction of paging; only
        # fetch and number it when pageInfo asks (list screens often do not).
        needs_more = _asks(selected, "pageInfo", "hasPreviousPage" if backward else "hasNextPage")
        numbered = needs_more or backward
        limit = self.q.param(self._convert(page.size, lambda n: n + 1), "int") if needs_more else size
        display = "DESC" if backward else "ASC"
        kept = f" FILTER (WHERE {x}.o <= {size})" if needs_more else ""

        def shown(item: str) -> str:
            """The page's items in display order (without the extra row that tells what is ahead)."""
            ordered = f" ORDER BY {x}.o {display}" if numbered else ""
            return f"coalesce(json_agg({item}{ordered}){kept}, '[]')"

        def edge_cursor(first_shown: bool) -> str:
            if numbered:
                direction = "ASC" if first_shown else "DESC"
                return f"(array_agg({x}.c ORDER BY {x}.o {direction}){kept})[1]"
            return f"(array_agg({x}.c))[{'1' if first_shown else 'count(*)'}]"

        node_type = get_named_type(connection_type.fields["nodes"].type)
        node_columns: list[str] = []  # JSON of the node, once per distinct selection
        node_selections: list[str] = []

        def node_column(selection_set: SelectionSetNode) -> str:
            json = self._node_json(target, a, node_type, selection_set)
            if json not in node_columns:
                node_columns.append(json)
                node_selections.append(f"{json} AS n{len(node_columns)}")
            return f"{x}.n{node_columns.index(json) + 1}"

        pairs = []
        needs_cursor = False
        for key, field_nodes in selected.items():
            name = field_nodes[0].name.value
            if name == "__typename":
                pairs.append((key, f"'{connection_type.name}'"))
            elif name == "nodes":
                pairs.append((key, shown(node_column(self.merged(field_nodes)))))
            elif name == "edges":
                edge_type = get_named_type(connection_type.fields["edges"].type)
                assert isinstance(edge_type, GraphQLObjectType)
                edge_pairs = []
                for edge_key, edge_nodes in self.collect(edge_type, self.merged(field_nodes)).items():
                    edge_name = edge_nodes[0].name.value
                    if edge_name == "__typename":
                        edge_pairs.append((edge_key, f"'{edge_type.name}'"))
                    elif edge_name == "cursor":
                        needs_cursor = True
                        edge_pairs.append((edge_key, f"{x}.c"))
                    else:
                        edge_pairs.append((edge_key, node_column(self.merged(edge_nodes))))
                pairs.append((key, shown(_object(edge_pairs))))
            elif name == "pageInfo":
                info_type = get_named_type(connection_type.fields["pageInfo"].type)
                assert isinstance(info_type, GraphQLObjectType)
                info_pairs = []
                for info_key, info_nodes in self.collect(info_type, self.merged(field_nodes)).items():
                    info_name = info_nodes[0].name.value
                    if info_name == "__typename":
                        info_pairs.append((info_key, f"'{info_type.name}'"))
                    elif info_name in ("startCursor", "endCursor"):
                        needs_cursor = True
                        info_pairs.append((info_key, edge_cursor((info_name == "startCursor") != backward)))
                    else:  # hasNextPage / hasPreviousPage
                        ahead = (info_name == "hasNextPage") != backward
                        info_pairs.append(
                            (info_key, f"count(*) > {size}" if ahead else self._beyond(target, page, link))
                        )
                pairs.append((key, _object(info_pairs)))
            elif name == "totalCount":
                c = self.q.alias()
                count_where = link(c) + self.q.visible(target, c, page.request.filter)
                pairs.append((key, f"(SELECT count(*) FROM {target.table} {c} WHERE {count_where})"))
            else:
                raise NotCompilable(f"{connection_type.name}.{name}")
        columns = [*node_selections, *([f"row_number() OVER (ORDER BY {order}) AS o"] if numbered else [])]
        if needs_cursor:
            columns.append(f"{self.q.cursor(target, a, page.request.ordering)} AS c")
        inner = f"SELECT {', '.join(columns)} FROM {target.table} {a} WHERE {page_where} ORDER BY {order} LIMIT {limit}"
        body = _object(pairs)
        if f"{x}." not in body and "count(*)" not in body:
            return f"(SELECT {body})"  # only totalCount / __typename / the other direction: no rows needed
        # HAVING makes it one group: one row even when the page is empty.
        return f"(SELECT {body} FROM ({inner}) {x} HAVING true)"

    def _beyond(self, target: Entity, page: _Page, link: Callable[[str], str]) -> str:
        """pageInfo's other direction: a row at or before `after` (or at or after `before`)?"""
        values = page.after if page.after is not None else page.before
        if values is None:
            return "false"
        b = self.q.alias()
        past = self.q.keyset(target, b, page.request.ordering, values, after=page.after is not None)
        visible = self.q.visible(target, b, page.request.filter)
        return f"EXISTS (SELECT 1 FROM {target.table} {b} WHERE {link(b)}{visible} AND NOT ({past}))"

    def _page(self, parent_type: GraphQLObjectType, node: FieldNode, target: Entity) -> _Page:
        first = self._argument(parent_type, node, "first")
        last = self._argument(parent_type, node, "last")
        after = self._argument(parent_type, node, "after")
        before = self._argument(parent_type, node, "before")
        filter_value = self._argument(parent_type, node, "filter")
        orders = self._argument(parent_type, node, "orderBy")
        kinds = self.custom_kinds
        ordering = to_ordering(orders, target, kinds.get(target.name, {}), Ordering())
        filter_tree = to_filter(filter_value, target, kinds)
        if first is not None and last is not None:
            raise NotCompilable("first and last")  # the executor reports it
        backward = last is not None
        given = last if backward else first
        size = self._convert(given, self._page_size) if given is not None else self.compiler.page_default
        request = PageRequest(ordering, filter_tree, size=0, backward=backward)
        return _Page(
            request=request,
            size=size,
            after=self._cursor_values(after, ordering, "after"),
            before=self._cursor_values(before, ordering, "before"),
        )

    def _page_size(self, value: Any) -> int:
        if not isinstance(value, int) or not 0 <= value <= self.compiler.page_max:
            raise ValueError("page size out of range")
        return value

    def _cursor_values(self, cursor: Any, ordering: Ordering, name: str) -> list[Any] | None:
        if cursor is None:
            return None
        width = len(ordering.keys) + 1
        if not isinstance(cursor, Deferred):
            return decode_cursor(cursor, ordering, field=name)

        def value_at(i: int) -> Deferred:
            return cursor.map(lambda text: decode_cursor(text, ordering, field=name)[i])

        return [value_at(i) for i in range(width)]

    @staticmethod
    def _convert(value: Any, fn: Callable[[Any], Any]) -> Any:
        return value.map(fn) if isinstance(value, Deferred) else fn(value)

    # -- arguments --------------------------------------------------------------------------

    def _argument(self, parent_type: GraphQLObjectType, node: FieldNode, name: str) -> Any:
        """An argument's value: literals coerced now, variables as Deferred leaves (see module doc)."""
        definition = parent_type.fields[node.name.value].args.get(name)
        if definition is None:
            return None
        for argument in node.arguments or ():
            if argument.name.value == name:
                return self._symbolic(argument.value, definition.type)
        return None

    def _symbolic(self, value: ValueNode, input_type: GraphQLInputType) -> Any:
        if isinstance(value, VariableNode):
            return _from_variable(self.variables.get(value.name.value), _var(value.name.value), "")
        named = input_type.of_type if isinstance(input_type, GraphQLNonNull) else input_type
        if isinstance(value, ObjectValueNode) and isinstance(named, GraphQLInputObjectType):
            return {f.name.value: self._symbolic(f.value, named.fields[f.name.value].type) for f in value.fields}
        if isinstance(value, ListValueNode) and isinstance(named, GraphQLList):
            return [self._symbolic(v, named.of_type) for v in value.values]
        return value_from_ast(value, input_type, dict(self.variables))

    def walk_arguments(self, parent: GraphQLObjectType, selection_set: SelectionSetNode, found: set[str]) -> None:
        """Collect the entities whose custom fields the filters and orderings of the operation use."""
        for nodes in self.collect(parent, selection_set).values():
            node = nodes[0]
            name = node.name.value
            if name.startswith("__") or name not in parent.fields:
                continue
            strawberry_field = self.compiler.strawberry_field(parent.name, name)
            meta = strawberry_field.metadata.get(PLAN) if strawberry_field is not None else None
            if meta is not None and meta[0] in ("many", "root_many"):
                target = entity(meta[1] if meta[0] == "root_many" else entity(meta[1]).relations[meta[2]].target)
                found |= custom_field_entities(
                    target, self._argument(parent, node, "filter"), self._argument(parent, node, "orderBy")
                )
            child = get_named_type(parent.fields[name].type)
            if isinstance(child, GraphQLObjectType) and node.selection_set is not None:
                self.walk_arguments(child, self.merged(nodes), found)


def _from_variable(value: Any, getter: Callable[[Mapping[str, Any]], Any], key: str) -> Any:
    """The variable's value with every non-structural leaf replaced by a Deferred getter."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {k: _from_variable(v, _at(getter, k), k) for k, v in value.items() if v is not None}
    if isinstance(value, list) and (not value or isinstance(value[0], Mapping)):
        return [_from_variable(v, _at(getter, i), "") for i, v in enumerate(value)]
    if isinstance(value, bool | Enum) or key in _STRUCTURAL_KEYS:
        return value
    return Deferred(getter)


def _asks(selected: Mapping[str, list[FieldNode]], field: str, sub_field: str) -> bool:
    """Whether the selection asks `field { sub_field }` (fragments inside count as asking)."""
    for nodes in selected.values():
        if nodes[0].name.value != field:
            continue
        for node in nodes:
            for sub in node.selection_set.selections if node.selection_set else ():
                if not isinstance(sub, FieldNode) or sub.name.value == sub_field:
                    return True
    return False


def _global_id(type_name: str, alias: str) -> str:
    return f"encode(convert_to('{type_name}:' || {alias}.id::text, 'UTF8'), 'base64')"


def _column_json(target: Entity, alias: str, name: str) -> str:
    column = target.column(name)
    expr = f"{alias}.{column.db}"
    if column.kind is Kind.ENUM:
        return f"upper({expr})"
    if column.kind is Kind.DECIMAL:
        return f"({expr})::text"
    return expr


def scope_key(scope: Scope | None, entities: Iterable[Entity]) -> Any:
    """What a record scope contributes to a plan's SQL (its filters are part of the text)."""
    if scope is None:
        return None
    return tuple(repr(scope(e)) for e in entities)
