from __future__ import annotations

import strawberry

from backend.custom_fields import service
from schema.custom_fields.types import CustomFieldDefinition, CustomFieldEntity


@strawberry.type
class Query:
    @strawberry.field(description="The tenant's custom fields of a type, by key.")
    async def custom_field_definitions(
        self, info: strawberry.Info, entity: CustomFieldEntity
    ) -> list[CustomFieldDefinition]:
        return [CustomFieldDefinition.of(d) for d in await service.definitions(info.context.tx, entity.value)]
