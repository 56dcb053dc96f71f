from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry

from backend.models import Team as TeamRow
from backend.query import reads
from backend.query.entities import entity
from backend.teams import service as teams
from schema.context import Context
from schema.fields import build
from schema.relay import Node, to_global_id

if TYPE_CHECKING:
    from schema.users.types import User


@strawberry.type(description="A group of users; TEAM record scopes reach the records of the caller's team.")
class Team(Node):
    name: str
    pk: strawberry.Private[UUID]

    @strawberry.field(description="The team's users, by name.")
    async def members(self, info: strawberry.Info) -> list[Annotated[User, strawberry.lazy("schema.users.types")]]:
        context: Context = info.context
        ids = (await teams.member_ids(context.tx, [self.pk]))[self.pk]
        rows = await reads.by_ids(context.tx, entity("User"), ids, scope=context.scope)
        return [build("User", rows[i]) for i in ids if i in rows]


def team_node(row: TeamRow) -> Team:
    return Team(id=to_global_id("Team", row.id), name=row.name, pk=row.id)
