"""Tickets (service requests): SLA due dates and resolution times follow the status."""

from __future__ import annotations

import datetime as dt

from backend import validation
from backend.models import TicketPriority, TicketStatus
from backend.records import Draft, Rules

# Time to resolution promised per priority, from the moment the ticket is filed.
SLA = {
    TicketPriority.URGENT: dt.timedelta(hours=4),
    TicketPriority.HIGH: dt.timedelta(hours=8),
    TicketPriority.NORMAL: dt.timedelta(hours=24),
    TicketPriority.LOW: dt.timedelta(hours=72),
}
_DONE = {TicketStatus.RESOLVED, TicketStatus.CLOSED}


def _check(draft: Draft) -> None:
    now = dt.datetime.now(dt.UTC)
    if draft.current is None:
        for name in ("account_id", "subject"):
            if draft.values.get(name) is None:
                draft.error(name, f"{name.removesuffix('_id')} is required")
        if draft.values.get("sla_due_at") is None:
            priority = TicketPriority(draft.values.get("priority") or TicketPriority.NORMAL)
            draft.values["sla_due_at"] = now + SLA[priority]
    draft.check("subject", lambda v: validation.text(v, max_length=300, required=True))
    draft.check("description", lambda v: validation.text(v, max_length=100_000))
    contact = draft.ref("contact_id")
    if contact is not None and contact["account_id"] not in (None, draft.get("account_id")):
        draft.error("contact_id", "this contact belongs to another account")
    assignee = draft.ref("assignee_id")
    if "assignee_id" in draft.values and assignee is not None and not assignee["is_active"]:
        draft.error("assignee_id", "the assignee is a deactivated user")
    if "status" in draft.values:
        status = TicketStatus(draft.values["status"])
        was_done = draft.current is not None and TicketStatus(draft.current["status"]) in _DONE
        if status in _DONE and not was_done:
            draft.values.setdefault("resolved_at", now)
        elif status not in _DONE:
            draft.values["resolved_at"] = None


RULES = Rules(
    entity="Ticket",
    references={"contact_id": "Contact", "assignee_id": "User"},
    check=_check,
    custom_fields=True,
)
