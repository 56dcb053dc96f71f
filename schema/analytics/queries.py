from __future__ import annotations

import strawberry

from schema.analytics.types import Analytics


@strawberry.type
class Query:
    @strawberry.field(description="Dashboard aggregates.")
    def analytics(self) -> Analytics:
        return Analytics()
