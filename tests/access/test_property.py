"""Property test: random policies × random documents of the real schema, against an oracle.

The generator writes a document (selections with aliases, fragments and inline fragments,
nested to-one relations, connections, filters and orderings, as literals or variables) and
records on the side which `Type.field` it touched for which action. The oracle decides each
with a ten-line evaluator of the policy semantics (allow if some held role allows, unless
some held role denies; `*` and `Type.*` wildcards). The field check (Casbin underneath, with
its memos) must deny exactly what the oracle denies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    get_named_type,
    is_leaf_type,
    validate,
)
from graphql import parse as parse_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.catalog import ACTIONS, Catalog
from policies.field_check import check
from schema import schema
from tests.access.support import plan_of, policy_of

CATALOG = Catalog(schema._schema)
SCHEMA = CATALOG.schema
ENTITIES = sorted(CATALOG.entities)
ROLES = ["r1", "r2", "r3"]


def oracle_allows(rules: list[tuple[str, str, str, str]], roles: set[str], obj: str, action: str) -> bool:
    def matches(pattern: str) -> bool:
        return pattern in ("*", obj) or (pattern.endswith(".*") and obj.startswith(pattern[:-1]))

    hits = [eft for role, pattern, act, eft in rules if role in roles and act in ("*", action) and matches(pattern)]
    return "allow" in hits and "deny" not in hits


def objects_of(type_name: str) -> list[str]:
    return ["*", f"{type_name}.*", *(f"{type_name}.{f}" for f in sorted(CATALOG.entities[type_name]))]


rule = st.tuples(
    st.sampled_from(ROLES),
    st.sampled_from(ENTITIES).flatmap(lambda t: st.sampled_from(objects_of(t))),
    st.sampled_from([*ACTIONS, "*"]),
    st.sampled_from(["allow", "allow", "deny"]),
)


@dataclass
class Doc:
    touched: set[tuple[str, str]] = field(default_factory=set)
    fragments: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    declarations: list[str] = field(default_factory=list)


def roots() -> list[tuple[str, str]]:
    """(root field, entity) for every root connection of the schema."""
    found = []
    for name, root_field in SCHEMA.query_type.fields.items():  # type: ignore[union-attr]
        named = get_named_type(root_field.type)
        if named.name.endswith("Connection") and named.name.removesuffix("Connection") in CATALOG.entities:
            found.append((name, named.name.removesuffix("Connection")))
    return found


def selection(draw: st.DrawFn, doc: Doc, type_name: str, depth: int) -> str:
    gql_type = SCHEMA.get_type(type_name)
    assert isinstance(gql_type, GraphQLObjectType)
    parts = ["__typename"]
    names = draw(st.lists(st.sampled_from(sorted(gql_type.fields)), min_size=1, max_size=5, unique=True))
    for name in names:
        target = get_named_type(gql_type.fields[name].type)
        if gql_type.fields[name].args and not is_leaf_type(target):
            continue  # nested connections are exercised at the root
        alias = draw(st.sampled_from(["", f"a_{name}: "]))
        if is_leaf_type(target):
            text = f"{alias}{name}"
        elif target.name in CATALOG.entities and depth < 2:
            text = f"{alias}{name} {{ {selection(draw, doc, target.name, depth + 1)} }}"
        elif isinstance(target, GraphQLObjectType) and target.name not in CATALOG.entities:
            leaves = [f for f, d in target.fields.items() if is_leaf_type(get_named_type(d.type))]
            text = f"{alias}{name} {{ {leaves[0]} }}"  # a value type (Money): covered by its field
        else:
            continue
        doc.touched.add((f"{type_name}.{name}", "read"))
        wrap = draw(st.sampled_from(["plain", "inline", "fragment"]))
        if wrap == "inline":
            text = f"... on {type_name} {{ {text} }}"
        elif wrap == "fragment":
            fragment = f"F{len(doc.fragments)}"
            doc.fragments.append(f"fragment {fragment} on {type_name} {{ {text} }}")
            text = f"...{fragment}"
        parts.append(text)
    return " ".join(parts)


def filter_value(draw: st.DrawFn, doc: Doc, entity: str, depth: int) -> dict[str, Any]:
    filter_type = SCHEMA.get_type(f"{entity}Filter")
    assert isinstance(filter_type, GraphQLInputObjectType)
    value: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(sorted(filter_type.fields)), max_size=3, unique=True)):
        named = get_named_type(filter_type.fields[name].type)
        if name in ("and", "or", "not"):
            inner = filter_value(draw, doc, entity, depth + 1) if depth < 1 else {}
            value[name] = inner if name == "not" else [inner]
        elif isinstance(named, GraphQLInputObjectType) and named.name in CATALOG.inputs and depth < 1:
            doc.touched.add((f"{entity}.{name}", "read"))
            value[name] = filter_value(draw, doc, CATALOG.inputs[named.name].entity, depth + 1)
        elif named.name == "CustomFieldFilter":
            doc.touched.add((f"{entity}.{name}", "read"))
            value[name] = [{"key": '"tier"', "isNull": False}]
        elif isinstance(named, GraphQLInputObjectType) and "isNull" in named.fields:
            doc.touched.add((f"{entity}.{name}", "read"))
            value[name] = {"isNull": False}
    return value


def literal(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return "false" if value is False else str(value)


def _unquoted(value: Any) -> Any:
    """The JSON form of a value written for a literal (strings are kept quoted there)."""
    if isinstance(value, dict):
        return {k: _unquoted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unquoted(v) for v in value]
    return value.strip('"') if isinstance(value, str) else value


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, Doc]:
    doc = Doc()
    fields = []
    for i, (root, entity) in enumerate(draw(st.lists(st.sampled_from(roots()), min_size=1, max_size=2))):
        args = ["first: 2"]
        if draw(st.booleans()):
            value = filter_value(draw, doc, entity, 0)
            if draw(st.booleans()):
                doc.declarations.append(f"$f{i}: {entity}Filter")
                doc.variables[f"f{i}"] = _unquoted(value)
                args.append(f"filter: $f{i}")
            else:
                args.append(f"filter: {literal(value)}")
        order_enum = SCHEMA.get_type(f"{entity}OrderField")
        if isinstance(order_enum, GraphQLEnumType) and draw(st.booleans()):
            order = draw(st.sampled_from(sorted(order_enum.values)))
            doc.touched.add((f"{entity}.{CATALOG.enum_field(order)}", "read"))
            if draw(st.booleans()):
                doc.declarations.append(f"$o{i}: [{entity}Order!]")
                doc.variables[f"o{i}"] = [{"field": order}]
                args.append(f"orderBy: $o{i}")
            else:
                args.append(f"orderBy: [{{field: {order}}}]")
        inner = selection(draw, doc, entity, 0)
        shape = draw(st.sampled_from(["nodes { %s }", "edges { cursor node { %s } }"]))
        fields.append(f"q{i}: {root}({', '.join(args)}) {{ totalCount {shape % inner} }}")
    header = f"query Q({', '.join(doc.declarations)})" if doc.declarations else "query Q"
    return header + " { " + " ".join(fields) + " } " + " ".join(doc.fragments), doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=st.lists(rule, max_size=12), held=st.sets(st.sampled_from(ROLES)), generated=documents())
def test_the_field_check_agrees_with_the_oracle(
    rules: list[tuple[str, str, str, str]], held: set[str], generated: tuple[str, Doc]
) -> None:
    source, doc = generated
    assert not validate(SCHEMA, parse_document(source)), source
    policy = policy_of(CATALOG, rules, roles=ROLES)
    found = {(d.object, d.action) for d in check(policy, frozenset(held), plan_of(CATALOG, source), doc.variables)}
    expected = {(obj, action) for obj, action in doc.touched if not oracle_allows(rules, held, obj, action)}
    assert found == expected, source
