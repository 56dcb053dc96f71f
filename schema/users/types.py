from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry

from schema.fields import connection_field, node_type
from schema.relay import Node


@node_type("User")
@strawberry.type(description="A person who signs in to the tenant.")
class User(Node):
    email: str
    name: str
    is_active: bool
    last_login_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[UUID]
    row: strawberry.Private[Any]

    owned_accounts = connection_field("User", "owned_accounts")
    assigned_tickets = connection_field("User", "assigned_tickets")
