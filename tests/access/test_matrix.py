"""The auth matrix, generated from the schema: every type × every default role × every action,
allowed and denied as the defaults say; then the same through the API, and cross-tenant ids.

`expected()` restates the default roles of policies/defaults.py independently (in words of
the issue); the schema supplies the types, fields, root lists and mutations. A type or field
added to the API is covered here without touching this file.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
)

from backend.db import tenant_transaction
from backend.models import Tenant
from policies.adapter import GrantRow, PolicyRows, RoleRow, ScopeRow
from policies.catalog import FIELD_ACTIONS, TYPE_ACTIONS, Catalog
from policies.defaults import DEFAULT_ROLES
from policies.enforcer import TenantPolicy
from policies.field_check import check
from schema import schema
from schema.relay import to_global_id
from tests import factories
from tests.access.support import plan_of
from tests.conftest import Api

CATALOG = Catalog(schema._schema)
SCHEMA = CATALOG.schema
ROLES = [role.name for role in DEFAULT_ROLES]
GRAPH = {"Account", "Contact", "Product", "Order", "OrderLine", "Ticket", "Feedback", "Opportunity"}
AMOUNTS = {"Order.total", "OrderLine.unitPrice", "OrderLine.amount"}
PERSONAL = {"Contact.firstName", "Contact.lastName", "Contact.email", "Contact.phone"}


def expected(role: str, type_name: str, field: str | None, action: str) -> bool:
    """What the issue says each default role may do (field None: the whole type, `Type.*`)."""
    obj = f"{type_name}.{field or '*'}"
    if type_name in ("Query", "Mutation"):  # root fields outside the conventions: admins only
        return role == "admin"
    directory = type_name == "Team" or obj in ("User.id", "User.name", "User.email", "User.isActive")
    if role == "admin":
        return True
    if role == "manager":
        if type_name in GRAPH:
            return action in (*FIELD_ACTIONS, "delete", "export", "merge")
        return action == "read" and type_name in ("User", "Team")
    if action == "read" and directory and role in ("sales", "support", "viewer"):
        return True
    if role == "sales":
        if type_name in ("Account", "Contact", "Order", "OrderLine", "Opportunity"):
            return action in FIELD_ACTIONS
        return action == "read" and type_name == "Product"
    if role == "support":
        if type_name in ("Ticket", "Feedback", "Contact"):
            return action in FIELD_ACTIONS
        return action == "read" and type_name in ("Account", "Order", "OrderLine", "Product") and obj not in AMOUNTS
    if role == "viewer":
        return action == "read" and type_name in GRAPH and obj not in PERSONAL
    if role == "integrator":
        if type_name in GRAPH:
            return action in FIELD_ACTIONS
        if type_name in ("Webhook", "WebhookDelivery"):  # integrations manage their webhooks
            return action in (*FIELD_ACTIONS, "delete", "manage_webhooks")
        return action == "read" and obj in ("User.id", "User.name")
    raise AssertionError(role)


def default_policy() -> TenantPolicy:
    rows = PolicyRows(
        version=1,
        roles=tuple(RoleRow(uuid.uuid4(), r.name, r.description) for r in DEFAULT_ROLES),
        grants=tuple(GrantRow(r.name, *g) for r in DEFAULT_ROLES for g in r.grants),
        scopes=tuple(ScopeRow(r.name, *s) for r in DEFAULT_ROLES for s in r.scopes),
        bindings=(),
    )
    return TenantPolicy(uuid.uuid4(), rows, CATALOG)


POLICY = default_policy()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("type_name", sorted(CATALOG.entities))
def test_every_type_role_and_action_is_decided_as_the_defaults_say(role: str, type_name: str) -> None:
    roles = frozenset({role})
    wrong = [
        (f"{type_name}.{field}", action)
        for field in sorted(CATALOG.entities[type_name])
        for action in FIELD_ACTIONS
        if POLICY.allowed(roles, f"{type_name}.{field}", action) != expected(role, type_name, field, action)
    ] + [
        (f"{type_name}.*", action)
        for action in TYPE_ACTIONS
        if POLICY.allowed(roles, f"{type_name}.*", action) != expected(role, type_name, None, action)
    ]
    assert wrong == []


def test_sales_update_only_their_own_records_and_read_all() -> None:
    for entity in ("Account", "Contact", "Order", "OrderLine"):
        assert POLICY.scope_kinds(frozenset({"sales"}), entity, "update") == frozenset({"own"})
        assert POLICY.scope_kinds(frozenset({"sales"}), entity, "read") == frozenset({"all"})
    assert POLICY.scope_kinds(frozenset({"sales"}), "Ticket", "read") is None


# -- mutations, statically (whatever mutations the schema has) --------------------------------


def sample(type_: GraphQLInputType, depth: int = 0) -> str:
    """A literal of the type; input objects get every field (nested ones only required ones)."""
    if isinstance(type_, GraphQLNonNull):
        return sample(type_.of_type, depth)
    if isinstance(type_, GraphQLList):
        return f"[{sample(type_.of_type, depth)}]"
    if isinstance(type_, GraphQLEnumType):
        return str(next(iter(type_.values)))
    if isinstance(type_, GraphQLInputObjectType):
        fields = [
            f"{name}: {sample(f.type, depth + 1)}"
            for name, f in type_.fields.items()
            if depth < 2 or isinstance(f.type, GraphQLNonNull)
        ]
        return "{" + ", ".join(fields) + "}"
    assert isinstance(type_, GraphQLScalarType)
    literals = {
        "Int": "1",
        "Seq": "1",
        "Float": "1.5",
        "Boolean": "true",
        "Decimal": '"1.00"',
        "Date": '"2025-01-01"',
        "JSON": "{}",
    }
    return literals.get(type_.name, '"2025-01-01T00:00:00Z"')  # String, ID, DateTime


def entity_inputs(type_: GraphQLInputType, depth: int = 0) -> set[tuple[str, str]]:
    """What an input type's fields set (every field given, as `sample` gives them)."""
    named = get_named_type(type_)
    if not isinstance(named, GraphQLInputObjectType) or depth > 2:
        return set()
    meaning = CATALOG.inputs.get(named.name)
    if meaning is None or meaning.kind != "input":
        return {t for f in named.fields.values() for t in entity_inputs(f.type, depth + 1)}
    return {(f"{meaning.entity}.{CATALOG.input_field(meaning.entity, f)}", meaning.action) for f in named.fields}


def mutation_expectation(name: str) -> tuple[str, set[tuple[str, str]]]:
    """The document calling a mutation with every input field set, and what it touches: its
    declared requirement, or by the naming conventions (see policies/catalog.py)."""
    field = SCHEMA.mutation_type.fields[name]  # type: ignore[union-attr]
    args = ", ".join(f"{a}: {sample(d.type)}" for a, d in field.args.items())
    touched = set(CATALOG.declared(field))
    target = CATALOG.mutation_target(name)
    if not touched and target is None:
        touched.add((f"Mutation.{name}", "update"))
    elif not touched and target is not None:
        entity, verb = target
        action = CATALOG.verb_action(verb)
        if action in TYPE_ACTIONS:
            touched.add((f"{entity}.*", action))
        else:
            touched |= {t for arg in field.args.values() for t in entity_inputs(arg.type)}
            if verb not in ("Create", "Update"):
                touched |= {
                    (f"{entity}.{CATALOG.input_field(entity, a)}", action)
                    for a in field.args
                    if a not in ("id", "ids", "version") and CATALOG.input_field(entity, a) in CATALOG.entities[entity]
                }
            touched = touched or {(f"{entity}.*", action)}
    selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
    return f"mutation {{ {name}({args}){selection} }}", touched


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(SCHEMA.mutation_type.fields))  # type: ignore[union-attr]
def test_every_mutation_is_allowed_or_refused_as_the_defaults_say(role: str, name: str) -> None:
    document, touched = mutation_expectation(name)
    found = {(d.object, d.action) for d in check(POLICY, frozenset({role}), plan_of(CATALOG, document), {})}
    want = set()
    for obj, action in touched:
        type_name, _, field = obj.partition(".")
        if not expected(role, type_name, None if field == "*" else field, action):
            want.add((obj, action))
    assert found == want, document


# -- through the API ----------------------------------------------------------------------------


def root_lists() -> list[tuple[str, str]]:
    found = []
    for name, field in SCHEMA.query_type.fields.items():  # type: ignore[union-attr]
        named = get_named_type(field.type)
        entity = named.name.removesuffix("Connection")
        if named.name.endswith("Connection") and entity in CATALOG.entities:
            found.append((name, entity))
    return found


def leaves(entity: str) -> list[str]:
    gql_type = SCHEMA.get_type(entity)
    assert isinstance(gql_type, GraphQLObjectType)
    return sorted(f for f, d in gql_type.fields.items() if is_leaf_type(get_named_type(d.type)))


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_reads_the_root_lists_as_the_defaults_say(api: Api, tenant: Tenant, role: str) -> None:
    for root, entity in root_lists():
        fields = leaves(entity)
        body = await api.graphql(tenant, f"{{ {root}(first: 1) {{ nodes {{ {' '.join(fields)} }} }} }}",
                                 subject=f"{role}-user", roles=(role,))  # fmt: skip
        refused = {f"{entity}.{f}" for f in fields if not expected(role, entity, f, "read")}
        if refused:
            assert body["data"] is None, (role, root)
            assert {d["object"] for d in body["errors"][0]["extensions"]["denied"]} == refused, (role, root)
        else:
            assert "errors" not in body, (role, root, body)


async def test_another_tenants_ids_read_as_nothing(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant_transaction(other_tenant.id) as tx:
        theirs: dict[str, Any] = await factories.graph(tx)
    tables = {"Account": "accounts", "Contact": "contacts", "Product": "products", "Order": "orders",
              "OrderLine": "order_lines", "Ticket": "tickets", "Feedback": "feedback", "User": "users"}  # fmt: skip
    checked = 0
    for name, field in SCHEMA.query_type.fields.items():  # type: ignore[union-attr]
        entity = get_named_type(field.type).name
        if list(field.args) != ["id"] or entity not in tables:
            continue
        their_id = to_global_id(entity, theirs[tables[entity]].id)
        for query in (f'{{ r: {name}(id: "{their_id}") {{ id }} }}', f'{{ r: node(id: "{their_id}") {{ id }} }}'):
            body = await api.graphql(tenant, query)
            assert body == {"data": {"r": None}, "extensions": body["extensions"]}, query
        checked += 1
    assert checked >= len(tables)
