"""Products: validation rules and the write path."""

from __future__ import annotations

from backend import validation
from backend.records import Draft, Rules


def _check(draft: Draft) -> None:
    if draft.current is None:
        for name in ("sku", "name", "price", "currency"):
            if draft.values.get(name) is None:
                draft.error(name, f"{name} is required")
    draft.check("sku", lambda v: validation.text(v, max_length=64, required=True))
    draft.check("name", lambda v: validation.text(v, max_length=300, required=True))
    draft.check("description", lambda v: validation.text(v, max_length=10_000))
    draft.check("price", validation.money)
    draft.check("currency", validation.currency)


RULES = Rules(entity="Product", references={}, check=_check, custom_fields=True)
