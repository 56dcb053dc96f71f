from __future__ import annotations

import strawberry
from strawberry import UNSET

from backend.custom_fields import service
from backend.models import CustomFieldKind
from schema.custom_fields.types import CustomFieldDefinition, CustomFieldEntity
from schema.relay import from_global_id


@strawberry.input(description="A new custom field.")
class CustomFieldDefineInput:
    entity: CustomFieldEntity
    key: str = strawberry.field(description="Lower-case letters, digits and _; starts with a letter.")
    label: str
    kind: CustomFieldKind
    options: list[str] | None = strawberry.field(default=None, description="Required for ENUM fields.")
    required: bool = False


@strawberry.input(description="Changes to a custom field (its key, type and entity are fixed).")
class CustomFieldUpdateInput:
    label: str | None = UNSET
    options: list[str] | None = UNSET
    required: bool | None = UNSET


@strawberry.type
class CustomFieldPayload:
    definition: CustomFieldDefinition


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Add a custom field to a type.")
    async def custom_field_define(self, info: strawberry.Info, input: CustomFieldDefineInput) -> CustomFieldPayload:
        definition = await service.define(
            info.context.tx,
            entity=input.entity.value,
            key=input.key,
            label=input.label,
            kind=input.kind,
            options=input.options or [],
            required=input.required,
        )
        return CustomFieldPayload(definition=CustomFieldDefinition.of(definition))

    @strawberry.mutation(description="Change a custom field's label, options or whether it is required.")
    async def custom_field_update(
        self, info: strawberry.Info, id: strawberry.ID, input: CustomFieldUpdateInput
    ) -> CustomFieldPayload:
        _, pk = from_global_id(id, expected="CustomFieldDefinition")
        definition = await service.update(
            info.context.tx,
            pk,
            label=None if input.label is UNSET else input.label,
            options=None if input.options is UNSET else input.options,
            required=None if input.required is UNSET else input.required,
        )
        return CustomFieldPayload(definition=CustomFieldDefinition.of(definition))

    @strawberry.mutation(description="Remove a custom field; stored values are kept and return if it is redefined.")
    async def custom_field_delete(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        _, pk = from_global_id(id, expected="CustomFieldDefinition")
        await service.delete(info.context.tx, pk)
        return id
