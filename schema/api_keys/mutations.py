from __future__ import annotations

from datetime import timedelta

import strawberry

from backend.api_keys import service as api_keys
from backend.audit import service as audit
from backend.context import ActorKind
from policies import admin
from policies.catalog import Requires
from schema.api_keys.inputs import ApiKeyCreateInput
from schema.api_keys.types import ApiKey, ApiKeySecretPayload, key_node
from schema.context import Context
from schema.relay import from_global_id

MANAGE_KEYS = Requires(object="ApiKey.*", action="manage_keys")


@strawberry.type
class Mutation:
    @strawberry.mutation(
        directives=[MANAGE_KEYS],
        description="Create an API key with roles; its secret is in the answer, and only there.",
    )
    async def api_key_create(self, info: strawberry.Info, input: ApiKeyCreateInput) -> ApiKeySecretPayload:
        context: Context = info.context
        tx = context.tx
        assert context.policy is not None
        creator = tx.actor.id if tx.actor.kind is ActorKind.USER else None
        key, secret = await api_keys.create(tx, name=input.name, expires_at=input.expires_at, created_by=creator)
        roles = sorted(set(input.roles))
        await admin.bind_key_roles(tx, context.policy.catalog, key_id=key.id, roles=roles)
        await audit.record(tx, "api_key.create", "api_keys", key.id,
                           after={"name": key.name, "roles": roles, "expiresAt": input.expires_at})  # fmt: skip
        secrets = await api_keys.secrets_of(tx, [key.id])
        fresh = await admin.reload(tx, context.policy.catalog)
        return ApiKeySecretPayload(api_key=key_node(fresh, key, secrets[key.id]), secret=secret)

    @strawberry.mutation(
        directives=[MANAGE_KEYS],
        description="A new secret for the key; its current secrets keep working for the grace period.",
    )
    async def api_key_rotate(
        self, info: strawberry.Info, id: strawberry.ID, grace_period_seconds: int = 86_400
    ) -> ApiKeySecretPayload:
        context: Context = info.context
        _, key_id = from_global_id(id, expected="ApiKey")
        key, secret = await api_keys.rotate(context.tx, key_id, grace=timedelta(seconds=grace_period_seconds))
        await audit.record(context.tx, "api_key.rotate", "api_keys", key.id,
                           after={"gracePeriodSeconds": grace_period_seconds})  # fmt: skip
        secrets = await api_keys.secrets_of(context.tx, [key.id])
        assert context.policy is not None
        return ApiKeySecretPayload(api_key=key_node(context.policy, key, secrets[key.id]), secret=secret)

    @strawberry.mutation(
        directives=[MANAGE_KEYS], description="Revoke a key: every process refuses it within a second."
    )
    async def api_key_revoke(self, info: strawberry.Info, id: strawberry.ID) -> ApiKey:
        context: Context = info.context
        _, key_id = from_global_id(id, expected="ApiKey")
        key = await api_keys.revoke(context.tx, key_id)
        await audit.record(context.tx, "api_key.revoke", "api_keys", key.id)
        secrets = await api_keys.secrets_of(context.tx, [key.id])
        assert context.policy is not None
        return key_node(context.policy, key, secrets[key.id])
