from __future__ import annotations

from uuid import UUID

import strawberry

from backend.audit import service as audit
from backend.context import ActorKind as Kind
from backend.errors import BadInput
from policies.catalog import Requires
from schema.audit.types import AuditEntryFilter, AuditEntryPage, entry_node
from schema.context import Context
from schema.relay import from_global_id


def _filter(given: AuditEntryFilter | None) -> audit.AuditFilter:
    if given is None:
        return audit.AuditFilter()
    entity_id = None
    if given.entity_id is not None:
        try:
            entity_id = UUID(given.entity_id)
        except ValueError:
            raise BadInput("not a row key", field="filter.entityId") from None
    return audit.AuditFilter(
        actor_kind=Kind(given.actor_kind.value) if given.actor_kind else None,
        actor_id=from_global_id(given.actor_id, field="filter.actorId")[1] if given.actor_id else None,
        action=given.action,
        entity=given.entity,
        entity_id=entity_id,
        request_id=given.request_id,
        since=given.since,
        until=given.until,
    )


@strawberry.type
class Query:
    @strawberry.field(
        description="The audit log, newest first, filtered.",
        directives=[Requires(object="AuditEntry.*", action="read")],
    )
    async def audit_log(
        self, info: strawberry.Info, filter: AuditEntryFilter | None = None, first: int = 50, after: str | None = None
    ) -> AuditEntryPage:
        context: Context = info.context
        if not 0 <= first <= context.settings.page_max:
            raise BadInput(f"first must be between 0 and {context.settings.page_max}", field="first")
        page = await audit.search(context.tx, _filter(filter), first=first, after=after)
        return AuditEntryPage(
            nodes=[entry_node(e) for e in page.entries],
            end_cursor=page.entries[-1].cursor if page.entries else None,
            has_next_page=page.has_more,
        )
