"""Tenant-defined custom fields: definitions, and validation of values on write."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError

from backend.context import TenantContext
from backend.errors import BadInput, Conflict, FieldError, NotFound
from backend.models import CustomFieldDefinition, CustomFieldKind

ENTITIES = ("Account", "Contact", "Product", "Order", "Ticket")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TEXT_MAX = 10_000


async def definitions(tx: TenantContext, entity: str) -> list[CustomFieldDefinition]:
    return await CustomFieldDefinition.filter(tenant_id=tx.tenant_id, entity=entity).order_by("key")


async def kinds(tx: TenantContext, entity: str) -> dict[str, str]:
    """key -> kind of every field defined for `entity` (what filters and sorting need)."""
    rows = await tx.fetch(
        "SELECT key, kind FROM custom_field_definitions WHERE tenant_id = $1 AND entity = $2", tx.tenant_id, entity
    )
    return {r["key"]: r["kind"] for r in rows}


async def define(
    tx: TenantContext,
    *,
    entity: str,
    key: str,
    label: str,
    kind: CustomFieldKind,
    options: list[str],
    required: bool,
) -> CustomFieldDefinition:
    errors = _definition_errors(entity=entity, key=key, label=label, kind=kind, options=options)
    if errors:
        raise BadInput(errors)
    try:
        return await CustomFieldDefinition.create(
            tenant_id=tx.tenant_id,
            entity=entity,
            key=key,
            label=label.strip(),
            kind=kind,
            options=options,
            required=required,
        )
    except IntegrityError:
        raise Conflict(f"{entity} already has a custom field '{key}'", field="key") from None


async def update(
    tx: TenantContext, definition_id: UUID, *, label: str | None, options: list[str] | None, required: bool | None
) -> CustomFieldDefinition:
    definition = await CustomFieldDefinition.get_or_none(tenant_id=tx.tenant_id, id=definition_id)
    if definition is None:
        raise NotFound("custom field not found")
    new_label = label if label is not None else definition.label
    new_options = options if options is not None else list(definition.options)
    errors = _definition_errors(
        entity=definition.entity, key=definition.key, label=new_label, kind=definition.kind, options=new_options
    )
    if errors:
        raise BadInput(errors)
    definition.label = new_label.strip()
    definition.options = new_options
    if required is not None:
        definition.required = required
    await definition.save()
    return definition


async def delete(tx: TenantContext, definition_id: UUID) -> None:
    """Remove the definition; stored values stay in the JSON (and reappear if it is redefined)."""
    deleted = await CustomFieldDefinition.filter(tenant_id=tx.tenant_id, id=definition_id).delete()
    if not deleted:
        raise NotFound("custom field not found")


def _definition_errors(*, entity: str, key: str, label: str, kind: str, options: list[str]) -> list[FieldError]:
    errors = []
    if entity not in ENTITIES:
        errors.append(FieldError("entity", f"custom fields exist for {', '.join(ENTITIES)}"))
    if not _KEY.match(key):
        errors.append(FieldError("key", "a key is a lower-case letter, then letters, digits or _ (63 at most)"))
    if not 1 <= len(label.strip()) <= 200:
        errors.append(FieldError("label", "a label has 1 to 200 characters"))
    if kind == CustomFieldKind.ENUM:
        if not options or len(set(options)) != len(options) or any(not o.strip() or len(o) > 100 for o in options):
            errors.append(
                FieldError("options", "an enum field needs distinct, non-empty options (100 characters at most)")
            )
    elif options:
        errors.append(FieldError("options", "only enum fields have options"))
    return errors


def coerce(kind: str, value: Any, options: list[str] | None = None) -> Any:
    """The JSON value stored for `value` of a field of `kind`; raises ValueError with a message."""
    if kind == CustomFieldKind.TEXT:
        if not isinstance(value, str) or len(value) > _TEXT_MAX:
            raise ValueError(f"expected text of at most {_TEXT_MAX} characters")
        return value
    if kind == CustomFieldKind.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValueError("expected a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError("expected a number") from None
        if not number.is_finite():
            raise ValueError("expected a finite number")
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == CustomFieldKind.DATE:
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError("expected a date as YYYY-MM-DD") from None
    if kind == CustomFieldKind.BOOL:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if kind == CustomFieldKind.ENUM:
        if value not in (options or []):
            raise ValueError(f"expected one of {', '.join(options or [])}")
        return value
    raise ValueError(f"unknown custom field kind {kind}")


async def validate(
    tx: TenantContext, entity: str, values: Mapping[str, Any], *, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Validated `custom_fields` for a row: `values` merged over `current` (null removes a key).

    Every problem is reported at once, with paths like `customFields.budget`.
    """
    defined = {d.key: d for d in await definitions(tx, entity)}
    result = dict(current or {})
    errors = []
    for key, value in values.items():
        definition = defined.get(key)
        if definition is None:
            errors.append(FieldError(f"customFields.{key}", f"{entity} has no custom field '{key}'"))
            continue
        if value is None:
            result.pop(key, None)
            continue
        try:
            result[key] = coerce(definition.kind, value, list(definition.options))
        except ValueError as exc:
            errors.append(FieldError(f"customFields.{key}", str(exc)))
    for key, definition in defined.items():
        if definition.required and result.get(key) is None:
            errors.append(FieldError(f"customFields.{key}", f"'{definition.label}' is required"))
    if errors:
        raise BadInput(errors)
    return result
