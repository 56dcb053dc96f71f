"""Scalars whose text form is the same on every execution path.

Types annotate plain `datetime` and `Decimal`; the schema maps those Python types to these
definitions (`scalar_overrides`), so resolvers and mypy see ordinary values.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, NewType

import strawberry


def _datetime_text(value: dt.datetime) -> str:
    # Postgres' to_json(timestamptz) with TimeZone=UTC: trailing zeros of the fraction dropped.
    text = value.astimezone(dt.UTC).isoformat()
    if value.microsecond:
        stamp, _, offset = text.rpartition("+")
        text = stamp.rstrip("0") + "+" + offset
    return text


def _parse_datetime(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("a DateTime is an ISO 8601 string")
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("a DateTime needs a time zone offset, e.g. 2025-01-31T09:00:00Z")
    return parsed


def _parse_decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('a Decimal is a string such as "12.50"')
    try:
        parsed = Decimal(str(value))
    except ArithmeticError:
        raise ValueError("not a decimal number") from None
    if not parsed.is_finite():
        raise ValueError("not a finite decimal number")
    return parsed


SEQ_MAX = 2**53 - 1  # the largest integer a JSON number carries exactly to a JavaScript client


def _parse_seq(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEQ_MAX:
        raise ValueError("a Seq is a whole number from 0 to 2^53 - 1")
    return value


# GraphQL's Int has 32 bits; a busy tenant's event stream outgrows that within weeks.
Seq = NewType("Seq", int)

SCALAR_OVERRIDES: dict[object, Any] = {
    dt.datetime: strawberry.scalar(
        name="DateTime",
        description="An ISO 8601 instant with a UTC offset, e.g. 2025-01-31T09:00:00+00:00.",
        serialize=_datetime_text,
        parse_value=_parse_datetime,
    ),
    Decimal: strawberry.scalar(
        name="Decimal",
        description='An exact decimal number, as a string ("1234.50").',
        serialize=str,
        parse_value=_parse_decimal,
    ),
    Seq: strawberry.scalar(
        name="Seq",
        description="An event's number in its tenant's stream (1, 2, 3…), a JSON number up to 2^53 - 1.",
        serialize=int,
        parse_value=_parse_seq,
    ),
}
