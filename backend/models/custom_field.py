from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField

from backend.models.base import TenantModel


class CustomFieldKind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOL = "bool"
    ENUM = "enum"


class CustomFieldDefinition(TenantModel):
    """A field a tenant's admins added to one entity type; values live in `custom_fields`."""

    entity = fields.TextField()
    key = fields.TextField()
    label = fields.TextField()
    kind = fields.CharEnumField(CustomFieldKind)
    options = ArrayField(element_type="text", default=list)
    required = fields.BooleanField(default=False)

    class Meta:
        table = "custom_field_definitions"
