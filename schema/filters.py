"""Filter and ordering inputs, and their translation into backend.query's filter language.

`<Type>Filter` inputs name their fields exactly like the model: a column holds an operator
input (`StringFilter`, `IntFilter`, …), a relation holds the target's filter (to-many: some
related row matches), `customFields` holds conditions on tenant-defined fields, and `and`,
`or`, `not` combine. One generic translation walks any of them, so every type filters the
same way and every path of a bad value is reported (`filter.owner.email.contains`).
"""

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from backend.custom_fields.service import coerce
from backend.errors import BadInput, FieldError
from backend.naming import camel, snake
from backend.query.entities import Entity, entity
from backend.query.filters import And, Compare, CustomField, Filter, Not, Op, Or, Related, all_of
from backend.query.sql import Deferred, Ordering, SortKey
from schema.relay import from_global_id

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

_OPS = {
    "eq": Op.EQ,
    "ne": Op.NE,
    "in": Op.IN,
    "notIn": Op.NOT_IN,
    "lt": Op.LT,
    "lte": Op.LTE,
    "gt": Op.GT,
    "gte": Op.GTE,
    "contains": Op.CONTAINS,
    "startsWith": Op.STARTS_WITH,
    "isNull": Op.IS_NULL,
}


@strawberry.enum(description="Sort direction.")
class OrderDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input(description="Conditions on a text field; contains and startsWith ignore case.")
class StringFilter:
    eq: str | None = UNSET
    ne: str | None = UNSET
    in_: list[str] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[str] | None = UNSET
    contains: str | None = UNSET
    starts_with: str | None = UNSET
    is_null: bool | None = UNSET


@strawberry.input(description="Conditions on an id (global ids of the right type).")
class IDFilter:
    eq: strawberry.ID | None = UNSET
    ne: strawberry.ID | None = UNSET
    in_: list[strawberry.ID] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[strawberry.ID] | None = UNSET
    is_null: bool | None = UNSET


@strawberry.input(description="Conditions on a true/false field.")
class BooleanFilter:
    eq: bool | None = UNSET
    is_null: bool | None = UNSET


@strawberry.input
class RangeFilter(Generic[T]):
    eq: T | None = UNSET
    ne: T | None = UNSET
    in_: list[T] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[T] | None = UNSET
    lt: T | None = UNSET
    lte: T | None = UNSET
    gt: T | None = UNSET
    gte: T | None = UNSET
    is_null: bool | None = UNSET


@strawberry.input(description="Conditions on an integer field.")
class IntFilter(RangeFilter[int]):
    pass


@strawberry.input(description='Conditions on a decimal field (amounts as strings, e.g. "12.50").')
class DecimalFilter(RangeFilter[Decimal]):
    pass


@strawberry.input(description="Conditions on an instant.")
class DateTimeFilter(RangeFilter[dt.datetime]):
    pass


@strawberry.input(description="Conditions on a calendar date.")
class DateFilter(RangeFilter[dt.date]):
    pass


@strawberry.input
class EnumFilter(Generic[E]):
    eq: E | None = UNSET
    ne: E | None = UNSET
    in_: list[E] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[E] | None = UNSET
    is_null: bool | None = UNSET


@strawberry.input(description="A condition on a tenant-defined custom field; values are typed by its definition.")
class CustomFieldFilter:
    key: str
    eq: JSON | None = UNSET
    ne: JSON | None = UNSET
    in_: list[JSON] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[JSON] | None = UNSET
    lt: JSON | None = UNSET
    lte: JSON | None = UNSET
    gt: JSON | None = UNSET
    gte: JSON | None = UNSET
    contains: str | None = UNSET
    starts_with: str | None = UNSET
    is_null: bool | None = UNSET


def graphql_value(value: Any) -> Any:
    """A strawberry input object as the dict graphql-core coerces it to (GraphQL field names).

    Both execution paths translate these dicts, so a filter means the same on both.
    """
    if isinstance(value, list):
        return [graphql_value(v) for v in value]
    definition = getattr(type(value), "__strawberry_definition__", None)
    if definition is None or isinstance(value, Enum):
        return value
    found = {}
    for field in definition.fields:
        given = getattr(value, field.python_name)
        if given is not UNSET:
            found[field.graphql_name or camel(field.python_name)] = graphql_value(given)
    return found


def to_filter(
    value: Mapping[str, Any] | None, target: Entity, custom_kinds: Mapping[str, Mapping[str, str]], path: str = "filter"
) -> Filter | None:
    """Translate a `<Type>Filter` input; `custom_kinds` maps entity name -> key -> kind.

    Leaves may be `Deferred` (a compiled plan's variables): their conversions then run when the
    plan is bound, and a bad value raises BAD_USER_INPUT at that point.
    """
    if value is None:
        return None
    errors: list[FieldError] = []
    result = _translate(value, target, custom_kinds, path, errors)
    if errors:
        raise BadInput(errors)
    return result


def _set(value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in value.items() if v is not None]


def _translate(
    value: Mapping[str, Any],
    target: Entity,
    kinds: Mapping[str, Mapping[str, str]],
    path: str,
    errors: list[FieldError],
) -> Filter | None:
    items: list[Filter | None] = []
    for key, given in _set(value):
        here = f"{path}.{key}"
        name = snake(key)
        if key == "not":
            inner = _translate(given, target, kinds, here, errors)
            items.append(Not(inner) if inner is not None else None)
        elif key in ("and", "or"):
            parts = [_translate(g, target, kinds, f"{here}.{i}", errors) for i, g in enumerate(given)]
            present = tuple(p for p in parts if p is not None)
            items.append(And(present) if key == "and" else Or(present))
        elif key == "customFields":
            for i, condition in enumerate(given):
                items.extend(_custom(condition, target, kinds, f"{here}.{i}", errors))
        elif name in target.relations:
            related = entity(target.relations[name].target)
            inner = _translate(given, related, kinds, here, errors)
            if inner is not None:
                items.append(Related(name, inner))
        else:
            for op_name, operand in _set(given):
                items.append(_compare(target, name, _OPS[op_name], operand, f"{here}.{op_name}", errors))
    return all_of(*items)


def convert(value: Any, fn: Callable[[Any], Any], path: str, errors: list[FieldError]) -> Any:
    """`fn(value)` now, or when a plan is bound if the value is Deferred; ValueError/BadInput
    become BAD_USER_INPUT at `path`."""
    if isinstance(value, Deferred):

        def bound(raw: Any) -> Any:
            try:
                return fn(raw)
            except (ValueError, BadInput) as exc:
                raise BadInput(getattr(exc, "message", None) or str(exc), field=path) from None

        return value.map(bound)
    try:
        return fn(value)
    except (ValueError, BadInput) as exc:
        errors.append(FieldError(path, getattr(exc, "message", None) or str(exc)))
        return None


def _compare(target: Entity, name: str, op: Op, operand: Any, path: str, errors: list[FieldError]) -> Filter | None:
    if op is Op.IS_NULL:
        return Compare(name, op, bool(operand))
    if name == "id":

        def decode(value: Any) -> Any:
            if isinstance(value, list):
                return [from_global_id(v, expected=target.name)[1] for v in value]
            return from_global_id(value, expected=target.name)[1]

        operand = convert(operand, decode, path, errors)
        if operand is None:
            return None
    return Compare(name, op, operand)


def _custom(
    condition: Mapping[str, Any],
    target: Entity,
    kinds: Mapping[str, Mapping[str, str]],
    path: str,
    errors: list[FieldError],
) -> list[Filter]:
    key = condition["key"]
    kind = kinds.get(target.name, {}).get(key)
    if kind is None:
        errors.append(FieldError(f"{path}.key", f"{target.name} has no custom field '{key}'"))
        return []
    found: list[Filter] = []
    for op_name, operand in _set(condition):
        if op_name == "key":
            continue
        op = _OPS[op_name]
        if op is Op.IS_NULL:
            value: Any = bool(operand)
        elif op in (Op.CONTAINS, Op.STARTS_WITH):
            value = convert(operand, str, f"{path}.{op_name}", errors)
        else:

            def typed(given: Any, kind: str = kind) -> Any:
                return (
                    [_custom_value(kind, v) for v in given] if isinstance(given, list) else _custom_value(kind, given)
                )

            value = convert(operand, typed, f"{path}.{op_name}", errors)
        if value is not None:
            found.append(CustomField(key, kind, op, value))
    return found


def custom_field_entities(target: Entity, filter: Mapping[str, Any] | None, orders: list[Any] | None) -> set[str]:
    """The entities whose custom field definitions a filter and an ordering need."""
    found = {target.name} if orders and any(o.get("customField") for o in orders) else set()

    def walk(value: Mapping[str, Any], current: Entity) -> None:
        for key, given in _set(value):
            if key == "customFields":
                found.add(current.name)
            elif key in ("and", "or", "not"):
                for item in given if isinstance(given, list) else [given]:
                    walk(item, current)
            elif snake(key) in current.relations:
                walk(given, entity(current.relations[snake(key)].target))

    if filter:
        walk(filter, target)
    return found


def _custom_value(kind: str, value: Any) -> Any:
    """A bind value for a comparison with a custom field of `kind` (enum values compare as text)."""
    if kind == "number":
        return Decimal(str(coerce(kind, value)))
    if kind == "date":
        return dt.date.fromisoformat(coerce(kind, value))
    if kind == "bool":
        return coerce(kind, value)
    if not isinstance(value, str):
        raise ValueError("expected text")
    return value


def to_ordering(
    orders: list[Mapping[str, Any]] | None, target: Entity, custom_kinds: Mapping[str, str], default: Ordering
) -> Ordering:
    """Translate `orderBy: [<Type>Order!]`; each item names a field or a custom field, not both."""
    if not orders:
        return default
    keys = []
    errors = []
    for i, item in enumerate(orders):
        field, custom = item.get("field"), item.get("customField")
        assert custom is None or isinstance(custom, str)
        descending = item.get("direction") is OrderDirection.DESC
        if (field is None) == (custom is None):
            errors.append(FieldError(f"orderBy.{i}", "give either field or customField"))
        elif field is not None:
            keys.append(SortKey(field.value, descending))
        elif custom is None or custom not in custom_kinds:
            errors.append(FieldError(f"orderBy.{i}.customField", f"{target.name} has no custom field '{custom}'"))
        else:
            keys.append(SortKey(None, descending, (custom, custom_kinds[custom])))
    if errors:
        raise BadInput(errors)
    return Ordering(tuple(keys))
