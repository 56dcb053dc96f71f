from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from schema.fields import Record, connection_field, node_type, to_one


@node_type("Contact")
@strawberry.type(description="A person, usually working for an account.")
class Contact(Record):
    first_name: str
    last_name: str
    email: str | None
    phone: str | None = strawberry.field(description="E.164, e.g. +14155550100.")
    title: str | None
    consent_email: bool = strawberry.field(description="Agreed to be contacted by email.")
    consent_sms: bool
    consent_phone: bool
    custom_fields: JSON

    account = to_one("Contact", "account")
    orders = connection_field("Contact", "orders")
    tickets = connection_field("Contact", "tickets")
    feedback = connection_field("Contact", "feedback")
