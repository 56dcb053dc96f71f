from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from backend.models import LifecycleStage, Tier
from schema.fields import connection_field, node_type, to_one
from schema.relay import Node


@node_type("Account")
@strawberry.type(description="A company the tenant does business with.")
class Account(Node):
    name: str
    domain: str | None = strawberry.field(description="The company's web domain, lower case (example.com).")
    industry: str | None
    lifecycle_stage: LifecycleStage
    tier: Tier | None
    custom_fields: JSON = strawberry.field(description="Values of the tenant's custom fields, by key.")
    version: int = strawberry.field(description="Increases on every change; pass it to updates to detect conflicts.")
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[UUID]
    row: strawberry.Private[Any]

    parent = to_one("Account", "parent", description="The parent company, if any.")
    owner = to_one("Account", "owner", description="The user who owns the relationship.")
    children = connection_field("Account", "children", description="Subsidiaries.")
    contacts = connection_field("Account", "contacts")
    orders = connection_field("Account", "orders")
    tickets = connection_field("Account", "tickets")
    feedback = connection_field("Account", "feedback")
