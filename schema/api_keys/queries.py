from __future__ import annotations

import strawberry

from backend.api_keys import service as api_keys
from schema.api_keys.types import ApiKey, key_node
from schema.context import Context


@strawberry.type
class Query:
    @strawberry.field(description="The tenant's API keys, oldest first (revoked ones included).")
    async def api_keys(self, info: strawberry.Info) -> list[ApiKey]:
        context: Context = info.context
        rows = await api_keys.list_keys(context.tx)
        secrets = await api_keys.secrets_of(context.tx, [row.id for row in rows])
        assert context.policy is not None
        return [key_node(context.policy, row, secrets[row.id]) for row in rows]
