from __future__ import annotations

from datetime import datetime

import strawberry

from schema.fields import Record, connection_field, node_type


@node_type("User")
@strawberry.type(description="A person who signs in to the tenant.")
class User(Record):
    email: str
    name: str
    is_active: bool
    last_login_at: datetime | None

    owned_accounts = connection_field("User", "owned_accounts")
    assigned_tickets = connection_field("User", "assigned_tickets")
