"""Contacts (people): validation rules and the write path."""

from __future__ import annotations

from backend import validation
from backend.customers.matching import duplicate_guard
from backend.records import Draft, Rules


def _check(draft: Draft) -> None:
    if draft.current is None and draft.values.get("last_name") is None:
        draft.error("last_name", "lastName is required")
    draft.check("last_name", lambda v: validation.text(v, max_length=100, required=True))
    draft.check("first_name", lambda v: validation.text(v, max_length=100) or "")
    draft.check("email", validation.email)
    draft.check("phone", validation.phone)
    draft.check("title", lambda v: validation.text(v, max_length=200))


RULES = Rules(
    entity="Contact",
    references={},
    check=_check,
    custom_fields=True,
    prepare=duplicate_guard("Contact"),
)
