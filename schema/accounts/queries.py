from __future__ import annotations

import orjson
import strawberry

from backend.errors import BadInput
from schema.accounts.types import Account, AccountConnection
from schema.relay import from_global_id

_COLUMNS = (
    "id, name, domain, industry, lifecycle_stage, tier, custom_fields::text AS custom_fields, "
    "version, created_at, updated_at"
)


@strawberry.type
class Query:
    @strawberry.field(description="One account by id; null when it does not exist for this tenant.")
    async def account(self, info: strawberry.Info, id: strawberry.ID) -> Account | None:
        _, pk = from_global_id(id, expected="Account")
        tx = info.context.tx
        row = await tx.fetchrow(f"SELECT {_COLUMNS} FROM accounts WHERE tenant_id = $1 AND id = $2", tx.tenant_id, pk)
        return None if row is None else Account.from_row({**row, "custom_fields": orjson.loads(row["custom_fields"])})

    @strawberry.field(description="The tenant's accounts by name.")
    async def accounts(self, info: strawberry.Info, first: int = 50) -> AccountConnection:
        if not 0 <= first <= info.context.settings.page_max:
            raise BadInput(f"first must be between 0 and {info.context.settings.page_max}", field="first")
        tx = info.context.tx
        rows = await tx.fetch(
            f"SELECT {_COLUMNS} FROM accounts WHERE tenant_id = $1 ORDER BY name, id LIMIT $2", tx.tenant_id, first
        )
        return AccountConnection(
            nodes=[Account.from_row({**r, "custom_fields": orjson.loads(r["custom_fields"])}) for r in rows]
        )
