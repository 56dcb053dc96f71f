from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from backend.models import LifecycleStage, Tier
from schema.relay import Node, to_global_id

strawberry.enum(LifecycleStage)
strawberry.enum(Tier)


@strawberry.type(description="A company the tenant does business with.")
class Account(Node):
    name: str
    domain: str | None
    industry: str | None
    lifecycle_stage: LifecycleStage
    tier: Tier | None
    custom_fields: JSON
    version: int
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[UUID]

    @classmethod
    def from_row(cls, row: Any) -> Account:
        return cls(
            id=to_global_id("Account", row["id"]),
            name=row["name"],
            domain=row["domain"],
            industry=row["industry"],
            lifecycle_stage=LifecycleStage(row["lifecycle_stage"]),
            tier=Tier(row["tier"]) if row["tier"] else None,
            custom_fields=row["custom_fields"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            pk=row["id"],
        )


@strawberry.type
class AccountConnection:
    nodes: list[Account]
