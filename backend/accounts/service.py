"""Accounts (companies): validation rules and the write path."""

from __future__ import annotations

from backend import validation
from backend.context import TenantContext
from backend.customers.matching import duplicate_guard
from backend.records import Draft, Rules


def _check(draft: Draft) -> None:
    if draft.current is None and draft.values.get("name") is None:
        draft.error("name", "name is required")
    draft.check("name", lambda v: validation.text(v, max_length=300, required=True))
    draft.check("domain", validation.domain)
    draft.check("industry", lambda v: validation.text(v, max_length=100))
    own_id = draft.current["id"] if draft.current is not None else draft.values["id"]
    if draft.values.get("parent_id") == own_id:
        draft.error("parent_id", "an account cannot be its own parent")
    owner = draft.ref("owner_id")
    if "owner_id" in draft.values and owner is not None and not owner["is_active"]:
        draft.error("owner_id", "the owner is a deactivated user")


async def _no_parent_cycles(tx: TenantContext, drafts: list[Draft]) -> None:
    """A new parent must not be the account itself or one of its descendants."""
    for draft in drafts:
        parent = draft.values.get("parent_id")
        if parent is None or draft.current is None:
            continue
        cycle = await tx.fetchval(
            """WITH RECURSIVE up (id, parent_id) AS (
                   SELECT id, parent_id FROM accounts WHERE tenant_id = $1 AND id = $2
                   UNION
                   SELECT a.id, a.parent_id FROM accounts a JOIN up ON a.id = up.parent_id WHERE a.tenant_id = $1
               )
               SELECT EXISTS (SELECT 1 FROM up WHERE id = $3)""",
            tx.tenant_id,
            parent,
            draft.current["id"],
        )
        if cycle:
            draft.error("parent_id", "the parent is a subsidiary of this account (that would make a cycle)")


_refuse_duplicates = duplicate_guard("Account")


async def _prepare(tx: TenantContext, drafts: list[Draft]) -> None:
    await _no_parent_cycles(tx, drafts)
    await _refuse_duplicates(tx, drafts)


RULES = Rules(
    entity="Account",
    references={"owner_id": "User"},
    check=_check,
    custom_fields=True,
    prepare=_prepare,
)
