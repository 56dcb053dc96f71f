"""Filter and ordering inputs, and their translation into backend.query's filter language.

`<Type>Filter` inputs name their fields exactly like the model: a column holds an operator
input (`StringFilter`, `IntFilter`, …), a relation holds the target's filter (to-many: some
related row matches), `customFields` holds conditions on tenant-defined fields, and `and`,
`or`, `not` combine. One generic translation walks any of them, so every type filters the
same way and every path of a bad value is reported (`filter.owner.email.contains`).
"""

import dataclasses
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from backend.custom_fields.service import coerce
from backend.errors import BadInput, FieldError
from backend.query.entities import Entity, entity
from backend.query.filters import And, Compare, CustomField, Filter, Not, Op, Or, Related, all_of
from backend.query.sql import Ordering, SortKey
from schema.relay import from_global_id

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

_OPS = {
    "eq": Op.EQ,
    "ne": Op.NE,
    "in_": Op.IN,
    "not_in": Op.NOT_IN,
    "lt": Op.LT,
    "lte": Op.LTE,
    "gt": Op.GT,
    "gte": Op.GTE,
    "contains": Op.CONTAINS,
    "starts_with": Op.STARTS_WITH,
    "is_null": Op.IS_NULL,
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


_COMBINATORS = {"and_", "or_", "not_"}


def to_filter(
    value: Any, target: Entity, custom_kinds: Mapping[str, Mapping[str, str]], path: str = "filter"
) -> Filter | None:
    """Translate a `<Type>Filter` input; `custom_kinds` maps entity name -> key -> kind."""
    errors: list[FieldError] = []
    result = _translate(value, target, custom_kinds, path, errors)
    if errors:
        raise BadInput(errors)
    return result


def _set_fields(value: Any) -> list[tuple[str, Any]]:
    return [
        (f.name, getattr(value, f.name))
        for f in dataclasses.fields(value)
        if getattr(value, f.name) is not UNSET and getattr(value, f.name) is not None
    ]


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


def _translate(
    value: Any, target: Entity, kinds: Mapping[str, Mapping[str, str]], path: str, errors: list[FieldError]
) -> Filter | None:
    items: list[Filter | None] = []
    for name, given in _set_fields(value):
        here = f"{path}.{_camel(name)}"
        if name in _COMBINATORS:
            if name == "not_":
                inner = _translate(given, target, kinds, here, errors)
                items.append(Not(inner) if inner is not None else None)
            else:
                parts = [_translate(g, target, kinds, f"{here}.{i}", errors) for i, g in enumerate(given)]
                present = tuple(p for p in parts if p is not None)
                items.append(And(present) if name == "and_" else Or(present))
        elif name == "custom_fields":
            for i, condition in enumerate(given):
                items.extend(_custom(condition, target, kinds, f"{here}.{i}", errors))
        elif name in target.relations:
            related = entity(target.relations[name].target)
            inner = _translate(given, related, kinds, here, errors)
            if inner is not None:
                items.append(Related(name, inner))
        else:
            for op_name, operand in _set_fields(given):
                items.append(_compare(target, name, op_name, operand, f"{here}.{_camel(op_name)}", errors))
    return all_of(*items)


def _compare(
    target: Entity, name: str, op_name: str, operand: Any, path: str, errors: list[FieldError]
) -> Filter | None:
    op = _OPS[op_name]
    if op is Op.IS_NULL:
        return Compare(name, op, bool(operand))
    if name == "id":
        try:
            operand = (
                [from_global_id(v, expected=target.name)[1] for v in operand]
                if isinstance(operand, list)
                else from_global_id(operand, expected=target.name)[1]
            )
        except BadInput as exc:
            errors.append(FieldError(path, exc.message))
            return None
    return Compare(name, op, operand)


def _custom(
    condition: CustomFieldFilter,
    target: Entity,
    kinds: Mapping[str, Mapping[str, str]],
    path: str,
    errors: list[FieldError],
) -> list[Filter]:
    kind = kinds.get(target.name, {}).get(condition.key)
    if kind is None:
        errors.append(FieldError(f"{path}.key", f"{target.name} has no custom field '{condition.key}'"))
        return []
    found: list[Filter] = []
    for op_name, operand in _set_fields(condition):
        if op_name == "key":
            continue
        op = _OPS[op_name]
        try:
            if op is Op.IS_NULL:
                value: Any = bool(operand)
            elif op in (Op.CONTAINS, Op.STARTS_WITH):
                value = str(operand)
            elif isinstance(operand, list):
                value = [_custom_value(kind, v) for v in operand]
            else:
                value = _custom_value(kind, operand)
        except ValueError as exc:
            errors.append(FieldError(f"{path}.{_camel(op_name)}", str(exc)))
            continue
        found.append(CustomField(condition.key, kind, op, value))
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
    orders: list[Any] | None, target: Entity, custom_kinds: Mapping[str, str], default: Ordering
) -> Ordering:
    """Translate `orderBy: [<Type>Order!]`; each item names a field or a custom field, not both."""
    if not orders:
        return default
    keys = []
    errors = []
    for i, item in enumerate(orders):
        descending = item.direction is OrderDirection.DESC
        if (item.field is None) == (item.custom_field is None):
            errors.append(FieldError(f"orderBy.{i}", "give either field or customField"))
        elif item.field is not None:
            keys.append(SortKey(item.field.value, descending))
        elif item.custom_field not in custom_kinds:
            errors.append(
                FieldError(f"orderBy.{i}.customField", f"{target.name} has no custom field '{item.custom_field}'")
            )
        else:
            keys.append(SortKey(None, descending, (item.custom_field, custom_kinds[item.custom_field])))
    if errors:
        raise BadInput(errors)
    return Ordering(tuple(keys))
