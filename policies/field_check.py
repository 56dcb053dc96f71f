"""The static field check: what an operation touches, checked before anything executes.

`compile_plan` reads one validated operation once (per cached document) and lists what it
needs, independently of who asks:

* every field it selects on an entity type (`read` of `Type.field`), through fragments and
  inline fragments; a field selected on an interface (`node { id }`) is needed on every
  entity type that could answer it, narrowed by the type conditions around it;
* every input field it sets, every field it filters or sorts by (from literal arguments);
* what root fields require: `@requires`, the mutation conventions, leaf root fields (see
  policies/catalog.py);
* which variables can name fields (entity inputs, filters, orderings), to be read per request.

`check` then answers for a role set: the static part once per (plan, roles, policy version)
(memoised on the policy snapshot, so a repeated document costs a dict lookup), the variables'
part per request, through the memoised per-object decisions.

Semantics for abstract selections: a field selected on an interface is checked on each
possible entity type the caller can read at all; types it cannot read are skipped (their rows
are invisible to it: its record scope there is "nothing"), unless it can read none of them.
`__typename` is always allowed; introspection (`__schema`, `__type`) is governed by settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.language import ValueNode

from policies.catalog import TYPE_ACTIONS, Catalog, unwrap
from policies.enforcer import TenantPolicy

# Arguments that say which record (and which version of it), not what to change.
_META_ARGS = frozenset({"id", "ids", "version"})
_COMBINATORS = frozenset({"and", "or", "not"})


@dataclass(frozen=True, slots=True)
class Need:
    path: str
    objects: tuple[str, ...]
    action: str
    abstract: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class VariableUse:
    name: str
    type: GraphQLInputType
    path: str
    default: Any
    writes: bool = True  # False under `@requires`: only what it reads (filters, orderings) counts


@dataclass(eq=False, slots=True)
class Plan:
    """What one operation needs; compared by identity (one per cached document and operation)."""

    needs: tuple[Need, ...]
    variables: tuple[VariableUse, ...]
    # Types the operation's mutations act on ("*": a mutation of no known type).
    mutates: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, order=True)
class Denial:
    path: str
    object: str
    action: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "object": self.object, "action": self.action}


@dataclass(frozen=True, slots=True)
class _Var:
    name: str


def compile_plan(
    catalog: Catalog, operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Plan:
    schema = catalog.schema
    root = schema.get_root_type(operation.operation)
    assert root is not None
    needs: list[Need] = []
    uses: list[VariableUse] = []
    mutates: set[str] = set()
    defaults = {
        d.variable.name.value: _literal(d.default_value) if d.default_value is not None else None
        for d in operation.variable_definitions or ()
    }

    def possible(named: GraphQLNamedType) -> frozenset[str]:
        if isinstance(named, GraphQLObjectType):
            return frozenset({named.name})
        return frozenset(t.name for t in schema.get_possible_types(named))  # type: ignore[arg-type]

    def arguments(node: FieldNode, field: GraphQLField, path: str, *, writes: bool = True) -> None:
        for arg in node.arguments or ():
            definition = field.args.get(arg.name.value)
            if definition is not None:
                value = _literal(arg.value)
                walk_value(catalog, value, definition.type, f"{path}({arg.name.value})", needs, uses, writes=writes)

    def root_field(parent: GraphQLObjectType, node: FieldNode, field: GraphQLField, path: str) -> None:
        name = node.name.value
        declared = catalog.declared(field)
        target = catalog.mutation_target(name) if parent is schema.mutation_type and not declared else None
        if parent is schema.mutation_type:
            types = {obj.partition(".")[0] for obj, _ in declared} or {target[0] if target else "*"}
            mutates.update(types)
        if declared:
            # The declared requirement is what calling the field needs; its inputs are the
            # field's business (an admin's RoleCreateInput is not an entity write).
            needs.extend(Need(path, (obj,), action) for obj, action in declared)
            arguments(node, field, path, writes=False)
            return
        if parent is schema.mutation_type and target is None:
            needs.append(Need(path, (f"{parent.name}.{name}",), "update"))
        elif target is not None:
            entity, verb = target
            action = catalog.verb_action(verb)
            if action in TYPE_ACTIONS:
                # The type action covers what it changes; what it reads (filters) is still checked.
                needs.append(Need(path, (f"{entity}.*",), action))
                arguments(node, field, path, writes=False)
                return
            # Field by field: the entity inputs it is given, and for other verbs the arguments
            # named like fields (`ticketAssign(id:, assigneeId:)`); a bare call needs the type.
            before = len(needs) + len(uses)
            arguments(node, field, path)
            for arg in node.arguments or () if verb not in ("Create", "Update") else ():
                field_name = catalog.input_field(entity, arg.name.value)
                if arg.name.value not in _META_ARGS and field_name in catalog.fields(entity):
                    needs.append(Need(f"{path}({arg.name.value})", (f"{entity}.{field_name}",), action))
            if len(needs) + len(uses) == before:
                needs.append(Need(path, (f"{entity}.*",), action))
            return
        elif node.selection_set is None:
            needs.append(Need(path, (f"{parent.name}.{name}",), "read"))
        arguments(node, field, path)

    def walk(selections: SelectionSetNode, parent: GraphQLNamedType, types: frozenset[str], path: str) -> None:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__"):
                    continue  # __typename everywhere; __schema/__type are the settings' business
                field = parent.fields[name]  # type: ignore[attr-defined]  # validated document
                key = (selection.alias or selection.name).value
                here = f"{path}.{key}" if path else key
                if parent.name in catalog.roots:
                    assert isinstance(parent, GraphQLObjectType)
                    root_field(parent, selection, field, here)
                else:
                    entities = sorted(t for t in types if t in catalog.entities)
                    if entities:
                        abstract = not isinstance(parent, GraphQLObjectType) or len(entities) > 1
                        needs.append(Need(here, tuple(f"{t}.{name}" for t in entities), "read", abstract))
                    arguments(selection, field, here)
                if selection.selection_set is not None:
                    child = get_named_type(field.type)
                    walk(selection.selection_set, child, possible(child), here)
            elif isinstance(selection, InlineFragmentNode):
                condition = parent
                if selection.type_condition is not None:
                    found = schema.get_type(selection.type_condition.name.value)
                    assert found is not None
                    condition = found
                walk(selection.selection_set, condition, types & possible(condition), path)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments[selection.name.value]
                spread = schema.get_type(fragment.type_condition.name.value)
                assert spread is not None
                walk(fragment.selection_set, spread, types & possible(spread), path)

    walk(operation.selection_set, root, possible(root), "")
    unique = dict.fromkeys((u.name, u.type, u.path, u.writes) for u in uses)
    return Plan(
        tuple(dict.fromkeys(needs)),
        tuple(VariableUse(name, type_, path, defaults.get(name), writes) for name, type_, path, writes in unique),
        frozenset(mutates),
    )


def walk_value(
    catalog: Catalog,
    value: Any,
    type_: GraphQLInputType,
    path: str,
    needs: list[Need],
    uses: list[VariableUse] | None,
    *,
    writes: bool = True,
) -> None:
    """The fields an argument value sets, tests or sorts by (`writes`: sets count too).
    Variables met in a document literal are recorded in `uses` (when they can name fields)
    and walked per request."""
    if isinstance(value, _Var):
        if uses is not None and catalog.names_fields(type_):
            uses.append(VariableUse(value.name, type_, path, None, writes))
        return
    if value is None:
        return
    named = unwrap(type_)
    if isinstance(named, GraphQLList):
        for item in value if isinstance(value, list) else [value]:  # a single value coerces to a list
            walk_value(catalog, item, named.of_type, path, needs, uses, writes=writes)
        return
    if isinstance(named, GraphQLEnumType):
        entity = catalog.order_fields.get(named.name)
        if entity is not None and isinstance(value, str):
            needs.append(Need(path, (f"{entity}.{catalog.enum_field(value)}",), "read"))
        return
    if not isinstance(named, GraphQLInputObjectType) or not isinstance(value, dict):
        return
    meaning = catalog.inputs.get(named.name)
    for key, item in value.items():
        field = named.fields.get(key)
        if field is None:
            continue  # unknown input fields fail validation or variable coercion before execution
        here = f"{path}.{key}"
        if (
            meaning is None
            or (meaning.kind == "filter" and key in _COMBINATORS)
            or (meaning.kind == "input" and not writes)
        ):
            walk_value(catalog, item, field.type, here, needs, uses, writes=writes)
        elif meaning.kind == "order":
            if key == "field":
                walk_value(catalog, item, field.type, here, needs, uses, writes=writes)
            elif key == "customField" and item is not None:
                needs.append(Need(here, (f"{meaning.entity}.customFields",), "read"))
        elif not (meaning.kind == "filter" and item is None):
            needs.append(Need(here, (f"{meaning.entity}.{catalog.input_field(meaning.entity, key)}",), meaning.action))
            walk_value(catalog, item, field.type, here, needs, uses, writes=writes)


def _literal(node: ValueNode) -> Any:
    """A document value as Python data, variables kept as markers."""
    if isinstance(node, VariableNode):
        return _Var(node.name.value)
    if isinstance(node, ObjectValueNode):
        return {f.name.value: _literal(f.value) for f in node.fields}
    if isinstance(node, ListValueNode):
        return [_literal(v) for v in node.values]
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, EnumValueNode):
        return node.value
    return getattr(node, "value", None)


def check(policy: TenantPolicy, roles: frozenset[str], plan: Plan, variables: Mapping[str, Any]) -> tuple[Denial, ...]:
    """Everything the roles may not do of what the operation needs (empty: allowed)."""
    key = (plan, roles)
    static: tuple[Denial, ...] | None = policy.decisions.get(key)
    if static is None:
        static = tuple(sorted(set(_denials(policy, roles, plan.needs))))
        policy.remember(key, static)
    if not plan.variables:
        return static
    needs: list[Need] = []
    for use in plan.variables:
        value = variables.get(use.name, use.default)
        walk_value(policy.catalog, value, use.type, use.path, needs, None, writes=use.writes)
    dynamic = _denials(policy, roles, needs)
    return tuple(sorted({*static, *dynamic})) if dynamic else static


def _denials(policy: TenantPolicy, roles: frozenset[str], needs: tuple[Need, ...] | list[Need]) -> list[Denial]:
    found: list[Denial] = []
    for need in needs:
        if not need.abstract:
            obj = need.objects[0]
            if not policy.allowed(roles, obj, need.action):
                found.append(Denial(need.path, obj, need.action))
            continue
        readable = [o for o in need.objects if policy.reaches(roles, o.partition(".")[0], "read")]
        for obj in readable or need.objects:
            if not policy.allowed(roles, obj, need.action):
                found.append(Denial(need.path, obj, need.action))
    return found
