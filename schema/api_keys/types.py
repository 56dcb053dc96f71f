from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry

from backend.api_keys import service as api_keys
from backend.auth import subject_of
from backend.context import ActorKind
from backend.models import ApiKey as ApiKeyRow
from backend.models import ApiKeySecret as SecretRow
from policies.enforcer import TenantPolicy
from schema.context import Context
from schema.relay import Node, to_global_id


@strawberry.type(description="One credential of a key (its secret itself is never shown again).")
class ApiKeySecret:
    prefix: str = strawberry.field(description="The secret's first characters, to recognise it.")
    created_at: datetime
    expires_at: datetime | None = strawberry.field(description="Set when a rotation superseded it.")
    last_used_at: datetime | None


@strawberry.type(description="An integrator's API key: its roles decide what it may do.")
class ApiKey(Node):
    name: str
    roles: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = strawberry.field(description="Last use of any of its secrets (to the minute).")
    secrets: list[ApiKeySecret]
    pk: strawberry.Private[UUID]


def key_node(policy: TenantPolicy, row: ApiKeyRow, secrets: list[SecretRow]) -> ApiKey:
    used = [s.last_used_at for s in secrets if s.last_used_at is not None]
    roles = sorted(policy.roles_of(subject_of(ActorKind.API_KEY, row.id)))
    return ApiKey(
        id=to_global_id("ApiKey", row.id),
        name=row.name,
        roles=roles,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=max(used, default=None),
        secrets=[
            ApiKeySecret(prefix=s.prefix, created_at=s.created_at, expires_at=s.expires_at, last_used_at=s.last_used_at)
            for s in secrets
        ],
        pk=row.id,
    )


async def keys_by_id(context: Context, ids: list[UUID], policy: TenantPolicy) -> list[ApiKey]:
    rows = sorted(await api_keys.by_ids(context.tx, ids), key=lambda row: (row.created_at, row.id))
    secrets = await api_keys.secrets_of(context.tx, [row.id for row in rows])
    return [key_node(policy, row, secrets[row.id]) for row in rows]


@strawberry.type(description="A new secret: shown this once, store it now.")
class ApiKeySecretPayload:
    api_key: ApiKey
    secret: str
