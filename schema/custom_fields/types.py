from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from backend.models import CustomFieldDefinition as Definition
from backend.models import CustomFieldKind
from schema.relay import to_global_id


@strawberry.enum(description="Types that carry tenant-defined custom fields.")
class CustomFieldEntity(Enum):
    ACCOUNT = "Account"
    CONTACT = "Contact"
    PRODUCT = "Product"
    ORDER = "Order"
    TICKET = "Ticket"


@strawberry.type(description="A field a tenant's admins added to a type; values live in `customFields`.")
class CustomFieldDefinition:
    id: strawberry.ID
    entity: CustomFieldEntity
    key: str
    label: str
    kind: CustomFieldKind
    options: list[str] = strawberry.field(description="The allowed values of an ENUM field.")
    required: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, definition: Definition) -> CustomFieldDefinition:
        return cls(
            id=to_global_id("CustomFieldDefinition", definition.id),
            entity=CustomFieldEntity(definition.entity),
            key=definition.key,
            label=definition.label,
            kind=CustomFieldKind(definition.kind),
            options=list(definition.options),
            required=definition.required,
            version=definition.version,
            created_at=definition.created_at,
            updated_at=definition.updated_at,
        )
