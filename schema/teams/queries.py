from __future__ import annotations

import strawberry

from backend.teams import service as teams
from schema.teams.types import Team, team_node


@strawberry.type
class Query:
    @strawberry.field(description="The tenant's teams, by name.")
    async def teams(self, info: strawberry.Info) -> list[Team]:
        return [team_node(row) for row in await teams.list_teams(info.context.tx)]
