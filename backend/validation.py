"""Value checks shared by every domain; each raises ValueError with a message for the user."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)


def text(value: Any, *, max_length: int, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ValueError("is required")
        return None
    if not isinstance(value, str):
        raise ValueError("must be text")
    value = value.strip()
    if required and not value:
        raise ValueError("must not be empty")
    if len(value) > max_length:
        raise ValueError(f"has {len(value)} characters, {max_length} at most")
    return value or None


def email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        normalized: str = validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address ({exc})") from None
    return normalized


def phone(value: str | None) -> str | None:
    """E.164 (+14155550100); other notations of an international number are normalised."""
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("must be an international number in E.164, e.g. +14155550100") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    formatted: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted


def domain(value: str | None) -> str | None:
    """A bare lower-case host name; a pasted URL ('https://www.Example.com/x') is reduced to it."""
    if value is None or not value.strip():
        return None
    host = value.strip().lower()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host).split("/")[0].split("?")[0].split("@")[-1].split(":")[0]
    host = host.removeprefix("www.")
    if not _HOST.match(host):
        raise ValueError("is not a domain name such as example.com")
    return host


def currency(value: str) -> str:
    code = value.strip().upper()
    if code not in _CURRENCIES:
        raise ValueError("is not an ISO 4217 currency code such as USD or EUR")
    return code


def money(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be zero or more")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("has more than two decimals")
    if amount >= Decimal("1e12"):
        raise ValueError("is too large")
    return amount.quantize(Decimal("0.01"))
