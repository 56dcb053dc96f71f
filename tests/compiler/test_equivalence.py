"""The compiled path and the executor answer every read identically.

Documents are generated from the schema itself: random selections with aliases, inline and
named fragments (also on the Node interface), `__typename`, nested to-one relations and
connections with random page sizes, directions, filters (literal or through variables),
orderings and custom fields. Each runs on both paths for two tenants: the JSON must be
byte-for-byte the same (key order included), the compiled path must have answered in one
statement, and neither path may return a row of the other tenant.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
    is_leaf_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.app import wire
from backend.auth import Principal
from backend.db import tenant_transaction
from backend.seed import SeedSize, seed_tenant
from backend.settings import Settings
from schema import schema
from schema.executor import GraphQLExecutor, OperationRequest
from tenants.provisioning import provision_tenant

GRAPHQL = schema._schema
ROOTS = ["accounts", "contacts", "orders", "tickets", "products", "feedback", "users"]
NODE_ROOTS = {"account": "Account", "contact": "Contact", "order": "Order", "ticket": "Ticket", "product": "Product"}
WORDS = ["a", "e", "ac", "Ac", "in", "x", "%", "_", "Acme", "o"]
CUSTOM_FIELDS = {"budget": "number", "region": "enum", "renewal": "date", "vip": "bool", "note": "text"}


@dataclass
class World:
    executor: GraphQLExecutor
    principals: list[Principal]
    ids: dict[str, list[str]]  # type -> global ids of both tenants
    own: list[set[str]]  # per tenant: the global ids it owns


@pytest.fixture(scope="module")
async def world(settings: Settings, app_db: None) -> World:
    tenants = [await provision_tenant(f"Equivalence {i} {uuid.uuid4().hex[:6]}") for i in range(2)]
    own: list[set[str]] = []
    ids: dict[str, list[str]] = {}
    for tenant in tenants:
        async with tenant_transaction(tenant.id) as tx:
            await seed_tenant(
                tx,
                SeedSize(
                    accounts=14, contacts_per_account=2, orders_per_contact=2, lines_per_order=2, products=6, users=3
                ),
            )
            for key, kind in CUSTOM_FIELDS.items():
                await tx.execute(
                    "INSERT INTO custom_field_definitions (tenant_id, id, entity, key, label, kind, options) "
                    "VALUES ($1, gen_random_uuid(), 'Account', $2, $2, $3, $4)",
                    tenant.id,
                    key,
                    kind,
                    ["emea", "apac"] if kind == "enum" else [],
                )
            await tx.execute(
                """UPDATE accounts SET industry = CASE WHEN random() < 0.3 THEN NULL ELSE industry END,
                     custom_fields = CASE WHEN random() < 0.7 THEN jsonb_build_object(
                       'budget', (random() * 1000)::int, 'region', (ARRAY['emea', 'apac'])[1 + (random() * 1)::int],
                       'renewal', '2025-0' || (1 + (random() * 8)::int) || '-15', 'vip', random() < 0.5,
                       'note', 'note ' || left(name, 3)) ELSE '{}' END
                   WHERE tenant_id = $1""",
                tenant.id,
            )
            await tx.execute(
                "INSERT INTO users (tenant_id, id, external_id, email) VALUES ($1, gen_random_uuid(), 'eq', 'eq@example.com')",
                tenant.id,
            )
            mine = set()
            for table, type_name in [
                ("accounts", "Account"),
                ("contacts", "Contact"),
                ("orders", "Order"),
                ("tickets", "Ticket"),
                ("products", "Product"),
                ("users", "User"),
                ("feedback", "Feedback"),
                ("order_lines", "OrderLine"),
            ]:
                for row in await tx.fetch(f"SELECT id FROM {table} WHERE tenant_id = $1", tenant.id):
                    gid = base64.b64encode(f"{type_name}:{row['id']}".encode()).decode()
                    mine.add(gid)
                    ids.setdefault(type_name, []).append(gid)
        own.append(mine)
    services = wire(settings)
    from backend.auth import issue_token

    principals = [
        await services.authenticator.authenticate(
            "Bearer " + issue_token(settings, tenant_id=t.id, subject="eq", roles=["admin"], email="eq@example.com")
        )
        for t in tenants
    ]
    return World(services.executor, principals, ids, own)


# -- document generation ---------------------------------------------------------------------


@dataclass
class Doc:
    draw: Any
    ids: dict[str, list[str]]
    variables: dict[str, Any] = field(default_factory=dict)
    definitions: list[str] = field(default_factory=list)
    fragments: list[str] = field(default_factory=list)

    def alias(self, name: str) -> str:
        """Sometimes an alias (a response key of its own) for the field."""
        if self.draw(st.integers(0, 3)) == 0:
            return f"x{self.draw(st.integers(0, 9))}{name}: {name}"
        return name

    def variable(self, type_name: str, value: Any) -> str:
        name = f"v{len(self.variables)}"
        self.variables[name] = value
        self.definitions.append(f"${name}: {type_name}")
        return f"${name}"


def literal(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, Enum_):
        return value.name
    return json.dumps(value)


@dataclass(frozen=True)
class Enum_:
    name: str


def unwrap(t: Any) -> Any:
    while isinstance(t, GraphQLNonNull | GraphQLList):
        t = t.of_type
    return t


def gen_filter(doc: Doc, input_type: GraphQLInputObjectType, entity_name: str, depth: int) -> dict[str, Any]:
    draw = doc.draw
    names = [n for n in input_type.fields if n not in ("and", "or", "not") or depth < 1]
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    result: dict[str, Any] = {}
    for name in chosen:
        field_type = unwrap(input_type.fields[name].type)
        if name in ("and", "or"):
            result[name] = [gen_filter(doc, input_type, entity_name, depth + 1) for _ in range(draw(st.integers(0, 2)))]
        elif name == "not":
            result[name] = gen_filter(doc, input_type, entity_name, depth + 1)
        elif name == "customFields":
            if entity_name != "Account":
                continue
            key = draw(st.sampled_from(sorted(CUSTOM_FIELDS)))
            kind = CUSTOM_FIELDS[key]
            condition: dict[str, Any] = {"key": key}
            if kind == "number":
                condition[draw(st.sampled_from(["gt", "lte", "eq"]))] = draw(st.integers(0, 1000))
            elif kind == "enum":
                condition["in"] = draw(st.lists(st.sampled_from(["emea", "apac"]), min_size=1, max_size=2))
            elif kind == "date":
                condition["gte"] = "2025-04-01"
            elif kind == "bool":
                condition["eq"] = draw(st.booleans())
            else:
                condition[draw(st.sampled_from(["contains", "startsWith"]))] = draw(st.sampled_from(WORDS))
            if draw(st.booleans()):
                condition = {"key": key, "isNull": draw(st.booleans())}
            result[name] = [condition]
        elif field_type.name == "StringFilter":
            op = draw(st.sampled_from(["eq", "ne", "contains", "startsWith", "in", "isNull"]))
            result[name] = {
                op: draw(st.booleans())
                if op == "isNull"
                else [draw(st.sampled_from(WORDS))]
                if op == "in"
                else draw(st.sampled_from(WORDS))
            }
        elif field_type.name == "IDFilter":
            target = NODE_TYPE_OF.get(entity_name, entity_name)
            pool = doc.ids.get(target) or ["x"]
            result[name] = (
                {"isNull": draw(st.booleans())}
                if draw(st.booleans())
                else {"in": draw(st.lists(st.sampled_from(pool), max_size=3))}
            )
        elif field_type.name == "BooleanFilter":
            result[name] = {"eq": draw(st.booleans())}
        elif field_type.name == "IntFilter":
            result[name] = {draw(st.sampled_from(["gte", "lt", "eq"])): draw(st.integers(0, 10))}
        elif field_type.name == "DecimalFilter":
            result[name] = {draw(st.sampled_from(["gt", "lte"])): draw(st.sampled_from(["0.00", "100.00", "2500.50"]))}
        elif field_type.name == "DateTimeFilter":
            result[name] = {
                draw(st.sampled_from(["gt", "lt"])): draw(
                    st.sampled_from(["2024-09-01T00:00:00Z", "2025-03-01T12:30:00Z"])
                )
            }
        elif field_type.name == "DateFilter":
            result[name] = {"lt": "2025-05-01"}
        elif (
            field_type.name.endswith("Filter")
            and isinstance(field_type, GraphQLInputObjectType)
            and "in" in field_type.fields
            and isinstance(unwrap(field_type.fields["in"].type), GraphQLEnumType)
        ):
            values = list(unwrap(field_type.fields["in"].type).values)
            result[name] = {
                "in": [Enum_(v) for v in draw(st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True))]
            }
        elif depth < 1 and isinstance(field_type, GraphQLInputObjectType):
            related = field_type.name.removesuffix("Filter")
            result[name] = gen_filter(doc, field_type, related, depth + 1)
    return result


NODE_TYPE_OF: dict[str, str] = {}


def gen_connection_args(doc: Doc, parent: GraphQLObjectType, name: str) -> str:
    draw = doc.draw
    args = parent.fields[name].args
    parts = []
    # Small pages keep the examples fast; the default page size is drawn now and then at the top.
    if draw(st.integers(0, 3)) > 0 or parent.name != "Query":
        parts.append(f"first: {draw(st.integers(0, 4))}")
    elif draw(st.booleans()):
        size = draw(st.integers(1, 4))
        parts.append(f"last: {doc.variable('Int', size) if draw(st.booleans()) else size}")
    node_type = get_named_type(get_named_type(parent.fields[name].type).fields["nodes"].type)
    filter_type = unwrap(args["filter"].type)
    if draw(st.booleans()):
        value = gen_filter(doc, filter_type, node_type.name, 0)
        if draw(st.booleans()):
            parts.append(f"filter: {doc.variable(filter_type.name, to_json(value))}")
        else:
            parts.append(f"filter: {literal(value)}")
    if draw(st.booleans()):
        order_type = unwrap(args["orderBy"].type)
        field_enum = unwrap(order_type.fields["field"].type)
        keys = draw(st.lists(st.sampled_from(list(field_enum.values)), min_size=1, max_size=2, unique=True))
        orders = [{"field": Enum_(k), "direction": Enum_(draw(st.sampled_from(["ASC", "DESC"])))} for k in keys]
        if node_type.name == "Account" and draw(st.booleans()):
            orders.insert(0, {"customField": draw(st.sampled_from(sorted(CUSTOM_FIELDS))), "direction": Enum_("DESC")})
        parts.append(f"orderBy: {literal(orders)}")
    return f"({', '.join(parts)})" if parts else ""


def to_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, Enum_):
        return value.name
    return value


def gen_selection(doc: Doc, object_type: GraphQLObjectType, depth: int) -> str:
    draw = doc.draw
    fields = {n: f for n, f in object_type.fields.items() if not n.startswith("__")}
    scalars = [n for n, f in fields.items() if is_leaf_type(get_named_type(f.type)) and not f.args]
    objects = [n for n, f in fields.items() if not is_leaf_type(get_named_type(f.type))]
    chosen = draw(st.lists(st.sampled_from(scalars), min_size=1, max_size=4, unique=True))
    parts = [doc.alias(n) for n in chosen]
    if draw(st.booleans()):
        parts.append("__typename")
    if depth < 3 and objects:
        for name in draw(st.lists(st.sampled_from(objects), max_size=2, unique=True)):
            child = get_named_type(fields[name].type)
            assert isinstance(child, GraphQLObjectType)
            if child.name.endswith("Connection"):
                parts.append(
                    doc.alias(name)
                    + gen_connection_args(doc, object_type, name)
                    + " "
                    + gen_connection(doc, child, depth + 1)
                )
            else:
                parts.append(doc.alias(name) + " { " + gen_selection(doc, child, depth + 1) + " }")
    if "id" in fields and draw(st.integers(0, 4)) == 0:
        parts.append("... on Node { id }")
    if draw(st.integers(0, 5)) == 0:
        name = f"F{len(doc.fragments)}"
        doc.fragments.append(f"fragment {name} on {object_type.name} {{ {draw(st.sampled_from(scalars))} }}")
        parts.append(f"...{name}")
    if draw(st.integers(0, 5)) == 0:
        parts = [f"... on {object_type.name} {{ {' '.join(parts)} }}"]
    return " ".join(parts)


def gen_connection(doc: Doc, connection_type: GraphQLObjectType, depth: int) -> str:
    draw = doc.draw
    node_type = get_named_type(connection_type.fields["nodes"].type)
    parts = []
    for name in draw(
        st.lists(st.sampled_from(["nodes", "edges", "pageInfo", "totalCount"]), min_size=1, max_size=3, unique=True)
    ):
        if name == "nodes":
            parts.append(doc.alias("nodes") + " { " + gen_selection(doc, node_type, depth) + " }")
        elif name == "edges":
            inner = ["cursor"] if draw(st.booleans()) else []
            inner.append("node { " + gen_selection(doc, node_type, depth) + " }")
            parts.append("edges { " + " ".join(inner) + " }")
        elif name == "pageInfo":
            keys = draw(
                st.lists(
                    st.sampled_from(["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"]),
                    min_size=1,
                    unique=True,
                )
            )
            parts.append("pageInfo { " + " ".join(keys) + " }")
        else:
            parts.append(doc.alias("totalCount"))
    return "{ " + " ".join(parts) + " }"


@st.composite
def documents(draw: Any, ids: dict[str, list[str]]) -> tuple[str, dict[str, Any]]:
    doc = Doc(draw, ids)
    query_type = GRAPHQL.query_type
    assert query_type is not None
    parts = []
    for root in draw(st.lists(st.sampled_from(ROOTS + list(NODE_ROOTS)), min_size=1, max_size=2, unique=True)):
        field_type = get_named_type(query_type.fields[root].type)
        assert isinstance(field_type, GraphQLObjectType)
        if root in NODE_ROOTS:
            pool = ids[NODE_ROOTS[root]]
            pk = draw(st.sampled_from(pool))
            argument = doc.variable("ID!", pk) if draw(st.booleans()) else json.dumps(pk)
            parts.append(f"{doc.alias(root)}(id: {argument}) {{ {gen_selection(doc, field_type, 1)} }}")
        else:
            parts.append(
                doc.alias(root) + gen_connection_args(doc, query_type, root) + " " + gen_connection(doc, field_type, 1)
            )
    header = f"query Q({', '.join(doc.definitions)})" if doc.definitions else "query Q"
    return header + " { " + " ".join(parts) + " } " + " ".join(doc.fragments), doc.variables


for _type_name in ["Account", "Contact", "Order", "OrderLine", "Ticket", "Product", "User", "Feedback"]:
    NODE_TYPE_OF[_type_name] = _type_name


def _ids_in(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "id" and isinstance(item, str):
                found.add(item)
            found |= _ids_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= _ids_in(item)
    return found


@settings(
    max_examples=int(os.environ.get("RAPPORT_EQUIVALENCE_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not os.environ.get("RAPPORT_EQUIVALENCE_EXAMPLES"),
)
@given(data=st.data())
async def test_both_paths_answer_identically(world: World, data: st.DataObject) -> None:
    query, variables = data.draw(documents(world.ids))
    for principal, own in zip(world.principals, world.own, strict=True):
        request = OperationRequest(query, variables, None)
        compiled = await world.executor.run(principal, request, request_id="eq", compiled=True)
        executed = await world.executor.run(principal, request, request_id="eq", compiled=False)
        compiled_body, executed_body = orjson.loads(compiled), orjson.loads(executed)
        if "errors" in executed_body:  # limits refuse before either path runs
            assert compiled == executed, (query, variables)
            continue
        assert compiled_body["extensions"]["plan"] == {"path": "compiled", "statements": 1}, (query, variables)
        assert orjson.dumps(compiled_body["data"]) == orjson.dumps(executed_body["data"]), (query, variables)
        assert _ids_in(compiled_body["data"]) <= own, (query, variables)
