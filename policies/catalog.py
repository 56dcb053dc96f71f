"""What access policies talk about, derived from the GraphQL schema itself.

Nothing here is a hand-written list of types or fields: a type or field the schema gains is
covered (and denied by default) the moment it exists.

* Entity types are the object types that implement `Node`. Their fields are the policy
  objects `Type.field`; `Type.*` names all of them, `*` everything.
* Field actions (`read`, `create`, `update`) apply to `Type.field`; type actions (`delete`,
  `export`, `merge`, `manage_policies`, `manage_keys`, `manage_webhooks`) apply to a whole type,
  `Type.*`.
* Input types are recognised by the naming conventions of the API: `<Type>Filter` and
  `<Type>Order` (read), `<Type>CreateInput` (create), `<Type>UpdateInput` (update); their
  fields name the entity's fields, with `xId`/`xIds` standing for the relation `x`/`xs`.
  `<Type>OrderField` enum values name fields in UPPER_SNAKE case. Other input types are
  values, looked into only for the inputs above.
* Mutations `<type><Verb>` / `<types><Verb>` act on their type: `Delete`, `Merge`, `Export`
  need the action on `Type.*` (which covers what their arguments change); `Create`/`Update`
  are checked field by field through their inputs; other verbs are updates of the fields
  their arguments name. A root field can state
  its requirement explicitly with the `@requires(object, action)` directive (`Requires`).
* Root fields that return a scalar and state nothing are objects themselves (`Query.x`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)
from strawberry.schema_directive import Location

WILDCARD = "*"
FIELD_ACTIONS = ("read", "create", "update")
TYPE_ACTIONS = ("delete", "export", "merge", "manage_policies", "manage_keys", "manage_webhooks")
ACTIONS = FIELD_ACTIONS + TYPE_ACTIONS
_VERBS = {"Create": "create", "Update": "update", "Delete": "delete", "Merge": "merge", "Export": "export"}
_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_FIELD = re.compile(r"^[a-z][A-Za-z0-9]*$")
_VERB = re.compile(r"^([a-z][A-Za-z0-9]*?)([A-Z][a-z0-9]*)$")


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="Access control: calling this field needs `action` on `object` (beyond the fields it selects).",
)
class Requires:
    object: str
    action: str


@dataclass(frozen=True, slots=True)
class InputMeaning:
    """What an input object type means to access control."""

    entity: str
    action: str
    kind: str  # "filter" | "order" | "input"


class Catalog:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        node = schema.get_type("Node")
        self.entities: dict[str, frozenset[str]] = {
            t.name: frozenset(t.fields)
            for t in schema.type_map.values()
            if isinstance(t, GraphQLObjectType) and not t.name.startswith("__") and node in t.interfaces
        }
        self.roots: dict[str, GraphQLObjectType] = {
            t.name: t for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t is not None
        }
        self.inputs: dict[str, InputMeaning] = {}
        self.order_fields: dict[str, str] = {}  # <Type>OrderField enum -> Type
        for named in schema.type_map.values():
            if isinstance(named, GraphQLInputObjectType):
                meaning = self._input_meaning(named.name)
                if meaning is not None:
                    self.inputs[named.name] = meaning
            elif isinstance(named, GraphQLEnumType) and named.name.endswith("OrderField"):
                entity = named.name.removesuffix("OrderField")
                if entity in self.entities:
                    self.order_fields[named.name] = entity
        self._relevant = self._types_naming_fields()

    # -- objects and actions ---------------------------------------------------------------

    def fields(self, type_name: str) -> frozenset[str]:
        if type_name in self.entities:
            return self.entities[type_name]
        root = self.roots.get(type_name)
        return frozenset(root.fields) if root is not None else frozenset()

    @cached_property
    def objects(self) -> tuple[str, ...]:
        """Every field-level object: `Type.field` of entities and root types."""
        return tuple(f"{t}.{f}" for t in sorted({*self.entities, *self.roots}) for f in sorted(self.fields(t)))

    def check_rule(self, obj: str, action: str) -> str | None:
        """Why (`object`, `action`) is not a valid rule, or None when it is."""
        if action != WILDCARD and action not in ACTIONS:
            return f"unknown action '{action}' (one of {', '.join(ACTIONS)} or *)"
        if obj == WILDCARD:
            return None
        type_name, dot, field = obj.partition(".")
        if not dot or not _NAME.match(type_name) or not (field == WILDCARD or _FIELD.match(field)):
            return f"'{obj}' is not an object: use *, Type.* or Type.field"
        if type_name not in self.entities and type_name not in self.roots:
            return f"unknown type '{type_name}'"
        if field != WILDCARD and field not in self.fields(type_name):
            return f"{type_name} has no field '{field}'"
        if field != WILDCARD and action in TYPE_ACTIONS:
            return f"'{action}' applies to whole types: use {type_name}.*"
        return None

    def covered(self, obj: str, action: str) -> list[tuple[str, str]]:
        """The concrete requests a rule (`obj`, `action`) decides: fields for field actions,
        `Type.*` for type actions. Used to check that a granter holds what it grants."""
        actions = ACTIONS if action == WILDCARD else (action,)
        types = sorted({*self.entities, *self.roots}) if obj == WILDCARD else [obj.partition(".")[0]]
        requests: list[tuple[str, str]] = []
        for act in actions:
            for type_name in types:
                if act in TYPE_ACTIONS:
                    if obj == WILDCARD or obj.endswith(".*"):
                        requests.append((f"{type_name}.*", act))
                elif obj == WILDCARD or obj.endswith(".*"):
                    requests.extend((f"{type_name}.{f}", act) for f in sorted(self.fields(type_name)))
                else:
                    requests.append((obj, act))
        return requests

    # -- inputs ----------------------------------------------------------------------------

    def _entity_prefix(self, name: str) -> tuple[str, str] | None:
        """(entity, rest) for the longest entity name `name` starts with."""
        best: tuple[str, str] | None = None
        for entity in self.entities:
            if name.startswith(entity) and (best is None or len(entity) > len(best[0])):
                best = (entity, name[len(entity) :])
        return best

    def _input_meaning(self, name: str) -> InputMeaning | None:
        split = self._entity_prefix(name)
        if split is None:
            return None
        entity, rest = split
        if rest == "Filter":
            return InputMeaning(entity, "read", "filter")
        if rest == "Order":
            return InputMeaning(entity, "read", "order")
        if rest in ("CreateInput", "UpdateInput"):
            return InputMeaning(entity, _VERBS[rest.removesuffix("Input")], "input")
        return None  # other inputs are values (`AccountMatchRulesInput` does not write Account fields)

    def input_field(self, entity: str, name: str) -> str:
        """The entity field an input field sets or tests (`accountId` -> `account`)."""
        fields = self.entities.get(entity, frozenset())
        if name in fields:
            return name
        if name.endswith("Id") and name[:-2] in fields:
            return name[:-2]
        if name.endswith("Ids") and name[:-3] + "s" in fields:
            return name[:-3] + "s"
        return name  # not a field of the type: denied unless a wildcard covers it

    @staticmethod
    def enum_field(value: str) -> str:
        """`CREATED_AT` -> `createdAt`."""
        head, *tail = value.lower().split("_")
        return head + "".join(part.capitalize() for part in tail)

    def names_fields(self, input_type: GraphQLInputType) -> bool:
        """Whether values of this type can set or test entity fields (so variables need a look)."""
        return get_named_type(input_type).name in self._relevant

    def _types_naming_fields(self) -> frozenset[str]:
        relevant = set(self.inputs) | set(self.order_fields)
        changed = True
        while changed:  # input types that contain relevant ones, to any depth
            changed = False
            for named in self.schema.type_map.values():
                if (
                    isinstance(named, GraphQLInputObjectType)
                    and named.name not in relevant
                    and any(get_named_type(f.type).name in relevant for f in named.fields.values())
                ):
                    relevant.add(named.name)
                    changed = True
        return frozenset(relevant)

    # -- root fields -----------------------------------------------------------------------

    def mutation_target(self, field_name: str) -> tuple[str, str] | None:
        """(entity, verb) of a mutation named `<type><Verb>` or `<types><Verb>`: the verb is the
        last word, the type the longest entity name the rest starts with (so irregular plurals
        such as `feedbackEntriesDelete` or `orderLinesCreate` resolve too)."""
        match = _VERB.match(field_name)
        if match is None:
            return None
        stem, verb = match.groups()
        best: str | None = None
        for entity in self.entities:
            lower = entity[0].lower() + entity[1:]
            rest = stem[len(lower) :]
            fits = stem.startswith(lower) and (not rest or rest[0].isupper() or rest in ("s", "es"))
            if fits and (best is None or len(entity) > len(best)):
                best = entity
        return None if best is None else (best, verb)

    @staticmethod
    def verb_action(verb: str) -> str:
        return _VERBS.get(verb, "update")

    @staticmethod
    def declared(field: GraphQLField) -> list[tuple[str, str]]:
        """The (object, action) pairs a field declares with `@requires`."""
        definition = (field.extensions or {}).get("strawberry-definition")
        directives = getattr(definition, "directives", None) or ()
        return [(d.object, d.action) for d in directives if isinstance(d, Requires)]


def unwrap(type_: GraphQLInputType) -> GraphQLInputType:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return type_


def is_list(type_: GraphQLInputType) -> bool:
    return isinstance(unwrap(type_), GraphQLList)
