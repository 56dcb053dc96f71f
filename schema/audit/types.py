from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import cast

import strawberry
from strawberry.scalars import JSON

from backend.audit.service import AuditEntry as Entry
from schema.relay import Node, to_global_id


@strawberry.enum(description="Who acted.")
class ActorKind(Enum):
    USER = "user"
    API_KEY = "api_key"
    JOB = "job"
    SYSTEM = "system"


_ACTOR_TYPES = {"user": "User", "api_key": "ApiKey"}


@strawberry.type(description="One entry of the append-only audit log.")
class AuditEntry(Node):
    at: datetime
    actor_kind: ActorKind
    actor_id: strawberry.ID | None = strawberry.field(description="The user's or API key's id.")
    request_id: str | None
    action: str = strawberry.field(
        description="insert, update, delete (row changes) or what an admin did: policy.grant, api_key.create, …"
    )
    entity: str = strawberry.field(description="The table (or kind of thing) changed.")
    entity_id: str | None = strawberry.field(description="The changed row's key.")
    before: JSON | None = strawberry.field(description="Changed fields before (updates, deletes).")
    after: JSON | None = strawberry.field(description="Changed fields after (inserts, updates).")


def entry_node(entry: Entry) -> AuditEntry:
    actor_type = _ACTOR_TYPES.get(entry.actor_kind)
    return AuditEntry(
        id=to_global_id("AuditEntry", entry.id),
        at=entry.at,
        actor_kind=ActorKind(entry.actor_kind),
        actor_id=to_global_id(actor_type, entry.actor_id) if actor_type and entry.actor_id else None,
        request_id=entry.request_id,
        action=entry.action,
        entity=entry.entity,
        entity_id=str(entry.entity_id) if entry.entity_id else None,
        before=cast(JSON, entry.before),
        after=cast(JSON, entry.after),
    )


@strawberry.input(description="Conditions on audit entries; all given ones must hold.")
class AuditEntryFilter:
    actor_kind: ActorKind | None = None
    actor_id: strawberry.ID | None = None
    action: str | None = strawberry.field(default=None, description="Exact, or a prefix ending in '.' (`policy.`).")
    entity: str | None = None
    entity_id: str | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@strawberry.type(description="A page of audit entries, newest first.")
class AuditEntryPage:
    nodes: list[AuditEntry]
    end_cursor: str | None
    has_next_page: bool
