from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from backend.context import ActorKind
from backend.dashboard import service as dashboard
from backend.events.service import Event as StoredEvent
from backend.query.entities import entity
from policies.access import readable_names
from policies.admin import actor_roles
from schema import loaders
from schema.context import Context
from schema.fields import MODULES, build
from schema.relay import Node, to_global_id
from schema.scalars import Seq

if TYPE_CHECKING:
    from schema.accounts.types import Account
    from schema.tickets.types import Ticket

_ACTOR_TYPES = {ActorKind.USER: "User", ActorKind.API_KEY: "ApiKey"}


@strawberry.type(description="A committed change of the tenant's data, from the outbox.")
class Event:
    stored: strawberry.Private[StoredEvent]

    @strawberry.field(description="Position in the tenant's stream: 1, 2, 3... without gaps; resume with `after`.")
    def seq(self) -> Seq:
        return Seq(self.stored.seq)

    @strawberry.field(description="`account.created`, `ticket.status_changed`, `feedback.received`...")
    def type(self) -> str:
        return self.stored.type

    @strawberry.field(description="The GraphQL type of the changed object (`Ticket`).")
    def entity(self) -> str:
        return self.stored.entity

    @strawberry.field(description="The global id of the changed object.")
    def entity_id(self) -> strawberry.ID | None:
        pk = self.stored.entity_id
        return None if pk is None else to_global_id(self.stored.entity, pk)

    @strawberry.field(
        description="Fields an update changed that you may read, by their input names (`status`); empty otherwise."
    )
    def changed_fields(self, info: strawberry.Info) -> list[str]:
        changed = self.stored.changed
        context: Context = info.context
        if not changed or context.policy is None or self.stored.entity not in context.policy.catalog.entities:
            return list(changed)
        policy = context.policy
        readable = readable_names(policy, actor_roles(context.principal.actor, policy), self.stored.entity, changed)
        return [name for name in changed if name in readable]

    @strawberry.field(description="Who made the change: user, api_key, job or system.")
    def actor_kind(self) -> str:
        return self.stored.actor_kind.value

    @strawberry.field(description="The global id of the user or API key that made the change.")
    def actor(self) -> strawberry.ID | None:
        kind, pk = _ACTOR_TYPES.get(self.stored.actor_kind), self.stored.actor_id
        return None if kind is None or pk is None else to_global_id(kind, pk)

    @strawberry.field(description="When the change committed.")
    def at(self) -> datetime:
        return self.stored.at

    @strawberry.field(
        description="The object as it is now, read like any query (your field access and record scope "
        "apply); null once deleted or when you cannot see it."
    )
    async def node(self, info: strawberry.Info) -> Node | None:
        stored = self.stored
        if stored.entity_id is None or stored.entity not in MODULES:
            return None
        context: Context = info.context
        row = await loaders.row_by_id(context, entity(stored.entity), stored.entity_id)
        found: Node | None = build(stored.entity, row)
        return found


@strawberry.type(description="A change of one account.")
class AccountChange:
    event: Event
    account: Annotated[Account, strawberry.lazy("schema.accounts.types")] | None = strawberry.field(
        description="The account now; null once deleted."
    )


@strawberry.type(description="A change of a ticket that matches the subscription's filter.")
class TicketUpdate:
    event: Event
    ticket: Annotated[Ticket, strawberry.lazy("schema.tickets.types")] | None = strawberry.field(
        description="The ticket now; null once deleted."
    )


@strawberry.type(description="Unresolved tickets with this status and priority.")
class TicketCount:
    status: str
    priority: str
    count: int


@strawberry.type(description="Live counters over the records you may see.")
class Dashboard:
    open_tickets: int = strawberry.field(description="Tickets that are open or pending.")
    tickets: list[TicketCount] = strawberry.field(description="Open and pending tickets by status and priority.")
    orders_today: int = strawberry.field(description="Orders placed since midnight UTC.")
    at: datetime = strawberry.field(description="When the counters were computed.")
    seq: Seq = strawberry.field(description="The last event the counters include.")

    @classmethod
    def of(cls, counters: dashboard.Counters, seq: int) -> Dashboard:
        tickets = [TicketCount(status=c.status, priority=c.priority, count=c.count) for c in counters.tickets]
        return cls(
            open_tickets=counters.open_tickets,
            tickets=tickets,
            orders_today=counters.orders_today,
            at=counters.at,
            seq=Seq(seq),
        )
