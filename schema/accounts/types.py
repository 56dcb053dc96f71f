from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from backend.models import LifecycleStage, Tier
from schema.fields import Record, connection_field, node_type, to_one


@node_type("Account")
@strawberry.type(description="A company the tenant does business with.")
class Account(Record):
    name: str
    domain: str | None = strawberry.field(description="The company's web domain, lower case (example.com).")
    industry: str | None
    lifecycle_stage: LifecycleStage
    tier: Tier | None
    custom_fields: JSON = strawberry.field(description="Values of the tenant's custom fields, by key.")

    parent = to_one("Account", "parent", description="The parent company, if any.")
    owner = to_one("Account", "owner", description="The user who owns the relationship.")
    children = connection_field("Account", "children", description="Subsidiaries.")
    contacts = connection_field("Account", "contacts")
    orders = connection_field("Account", "orders")
    tickets = connection_field("Account", "tickets")
    feedback = connection_field("Account", "feedback")
