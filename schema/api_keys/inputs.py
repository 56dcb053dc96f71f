from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.input(description="A new API key.")
class ApiKeyCreateInput:
    name: str
    roles: list[str] = strawberry.field(default_factory=list, description="Roles of the tenant the key holds.")
    expires_at: datetime | None = None
