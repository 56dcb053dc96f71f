from __future__ import annotations

import strawberry

from backend.teams import service as teams
from policies.catalog import Requires
from schema.relay import from_global_id
from schema.teams.types import Team, team_node

# Teams decide what TEAM record scopes reach: changing them is policy administration.
MANAGE_TEAMS = Requires(object="Role.*", action="manage_policies")


@strawberry.type
class Mutation:
    @strawberry.mutation(directives=[MANAGE_TEAMS], description="Create a team.")
    async def team_create(self, info: strawberry.Info, name: str) -> Team:
        return team_node(await teams.create(info.context.tx, name=name))

    @strawberry.mutation(directives=[MANAGE_TEAMS], description="Rename a team.")
    async def team_rename(self, info: strawberry.Info, id: strawberry.ID, name: str) -> Team:
        _, team_id = from_global_id(id, expected="Team")
        return team_node(await teams.rename(info.context.tx, team_id, name=name))

    @strawberry.mutation(directives=[MANAGE_TEAMS], description="Delete a team; its members stay, teamless.")
    async def team_delete(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        _, team_id = from_global_id(id, expected="Team")
        await teams.delete(info.context.tx, team_id)
        return id

    @strawberry.mutation(directives=[MANAGE_TEAMS], description="Put a user in a team (or in none: teamId null).")
    async def user_set_team(
        self, info: strawberry.Info, user_id: strawberry.ID, team_id: strawberry.ID | None
    ) -> strawberry.ID:
        _, user_pk = from_global_id(user_id, expected="User", field="userId")
        team_pk = from_global_id(team_id, expected="Team", field="teamId")[1] if team_id is not None else None
        await teams.set_user_team(info.context.tx, user_pk, team_pk)
        return user_id
