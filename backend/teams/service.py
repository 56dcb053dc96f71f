"""Teams: groups of users, the unit of the `team` record scope."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from uuid_utils.compat import uuid7

from backend.context import TenantContext
from backend.errors import BadInput, Conflict, NotFound
from backend.models import Team


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise BadInput("a team name has 1 to 100 characters", field="name")
    return name


async def list_teams(tx: TenantContext) -> list[Team]:
    return await Team.filter(tenant_id=tx.tenant_id).order_by("name", "id")


async def by_ids(tx: TenantContext, ids: list[UUID]) -> list[Team]:
    return await Team.filter(tenant_id=tx.tenant_id, id__in=ids)


async def get(tx: TenantContext, team_id: UUID) -> Team:
    team = await Team.get_or_none(tenant_id=tx.tenant_id, id=team_id)
    if team is None:
        raise NotFound("no such team", field="id")
    return team


async def create(tx: TenantContext, *, name: str) -> Team:
    name = _check_name(name)
    team_id = uuid7()
    try:
        await tx.execute("INSERT INTO teams (tenant_id, id, name) VALUES ($1, $2, $3)", tx.tenant_id, team_id, name)
    except asyncpg.UniqueViolationError:
        raise Conflict(f"a team named '{name}' exists already", field="name") from None
    return await get(tx, team_id)


async def rename(tx: TenantContext, team_id: UUID, *, name: str) -> Team:
    name = _check_name(name)
    try:
        status = await tx.execute(
            "UPDATE teams SET name = $3 WHERE tenant_id = $1 AND id = $2", tx.tenant_id, team_id, name
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(f"a team named '{name}' exists already", field="name") from None
    if status == "UPDATE 0":
        raise NotFound("no such team", field="id")
    return await get(tx, team_id)


async def delete(tx: TenantContext, team_id: UUID) -> None:
    """Delete a team; its members stay, without a team."""
    status = await tx.execute("DELETE FROM teams WHERE tenant_id = $1 AND id = $2", tx.tenant_id, team_id)
    if status == "DELETE 0":
        raise NotFound("no such team", field="id")


async def set_user_team(tx: TenantContext, user_id: UUID, team_id: UUID | None) -> None:
    try:
        status = await tx.execute(
            "UPDATE users SET team_id = $3 WHERE tenant_id = $1 AND id = $2", tx.tenant_id, user_id, team_id
        )
    except asyncpg.ForeignKeyViolationError:
        raise NotFound("no such team", field="teamId") from None
    if status == "UPDATE 0":
        raise NotFound("no such user", field="userId")


async def member_ids(tx: TenantContext, team_ids: list[UUID]) -> dict[UUID, list[UUID]]:
    found: dict[UUID, list[UUID]] = {t: [] for t in team_ids}
    rows = await tx.fetch(
        "SELECT team_id, id FROM users WHERE tenant_id = $1 AND team_id = ANY($2::uuid[]) ORDER BY name, id",
        tx.tenant_id,
        team_ids,
    )
    for row in rows:
        found[row["team_id"]].append(row["id"])
    return found
