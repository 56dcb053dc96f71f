from __future__ import annotations

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from backend.contacts.service import RULES
from schema.customers.mutations import duplicate_warnings
from schema.mutations import crud_fields


@strawberry.input(description="A new contact.")
class ContactCreateInput:
    last_name: str
    first_name: str | None = UNSET
    account_id: strawberry.ID | None = UNSET
    email: str | None = UNSET
    phone: str | None = strawberry.field(default=UNSET, description="International format, e.g. +14155550100.")
    title: str | None = UNSET
    consent_email: bool | None = UNSET
    consent_sms: bool | None = UNSET
    consent_phone: bool | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.input(description="Changes to a contact: only the fields given change; null clears a field.")
class ContactUpdateInput:
    last_name: str | None = UNSET
    first_name: str | None = UNSET
    account_id: strawberry.ID | None = UNSET
    email: str | None = UNSET
    phone: str | None = UNSET
    title: str | None = UNSET
    consent_email: bool | None = UNSET
    consent_sms: bool | None = UNSET
    consent_phone: bool | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.type
class Mutation:
    (
        contact_create,
        contacts_create,
        contact_update,
        contacts_update,
        contact_delete,
        contacts_delete,
    ) = crud_fields(
        "Contact", RULES, ContactCreateInput, ContactUpdateInput, create_extension=duplicate_warnings("Contact")
    )
