"""Audit archiving: the scheduler moves the tenants' row changes from the outbox into the audit
log every few seconds (backend/audit/service.py explains why they start in the outbox)."""

from __future__ import annotations

from backend import db
from backend.audit import service as audit
from jobs import runtime


async def archive_backlog() -> int:
    """Archive every tenant that has pending row changes, one transaction each; returns how many
    entries were archived. Several workers doing it at once take turns per tenant."""
    archived = 0
    for tenant_id in await db.audit_backlog():
        async with db.tenant_transaction(tenant_id, actor=runtime.JOB, wake=False) as tx:
            archived += await audit.archive(tx)
    return archived
