"""Entity metadata for the SQL builder, derived from the Tortoise models.

The models are the one description of each table; this module reads their `_meta` into
small immutable records (columns with their SQL kind, relations with the columns that join
them) so that SQL can be generated without touching Tortoise at request time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from functools import cache
from typing import Any

from tortoise import Tortoise, fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.fields.data import CharEnumFieldInstance
from tortoise.fields.relational import BackwardFKRelation, ForeignKeyFieldInstance
from tortoise.models import Model

from backend import models


class Kind(StrEnum):
    UUID = "uuid"
    TEXT = "text"
    INT = "int"
    BOOL = "bool"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    JSON = "json"
    ENUM = "enum"
    ARRAY = "array"


# The SQL type a bind parameter of each kind is cast to.
SQL_TYPES = {
    Kind.UUID: "uuid",
    Kind.TEXT: "text",
    Kind.INT: "bigint",
    Kind.BOOL: "boolean",
    Kind.DECIMAL: "numeric",
    Kind.DATE: "date",
    Kind.DATETIME: "timestamptz",
    Kind.JSON: "jsonb",
    Kind.ENUM: "text",
    Kind.ARRAY: "text[]",
}

_KINDS: list[tuple[type[fields.Field[Any]], Kind]] = [
    (CharEnumFieldInstance, Kind.ENUM),
    (fields.UUIDField, Kind.UUID),
    (fields.TextField, Kind.TEXT),
    (fields.CharField, Kind.TEXT),
    (fields.BooleanField, Kind.BOOL),
    (fields.SmallIntField, Kind.INT),
    (fields.IntField, Kind.INT),
    (fields.DecimalField, Kind.DECIMAL),
    (fields.DatetimeField, Kind.DATETIME),
    (fields.DateField, Kind.DATE),
    (fields.JSONField, Kind.JSON),
    (ArrayField, Kind.ARRAY),
]


@dataclass(frozen=True, slots=True)
class Column:
    name: str  # model field name (for foreign keys, the `x_id` source field)
    db: str
    kind: Kind
    nullable: bool
    enum: type[Enum] | None = None


@dataclass(frozen=True, slots=True)
class Relation:
    """`one`: source.local -> target.remote (= id). `many`: source.local (= id) <- target.remote."""

    name: str
    kind: str  # "one" | "many"
    target: str
    local: str
    remote: str


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    table: str
    model: type[Model]
    columns: dict[str, Column]
    relations: dict[str, Relation]

    def column(self, name: str) -> Column:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"{self.name} has no column {name!r}") from None

    @property
    def select_list(self) -> tuple[str, ...]:
        return tuple(c.db for c in self.columns.values())


def _kind(field: fields.Field[Any]) -> Kind:
    for cls, kind in _KINDS:
        if isinstance(field, cls):
            return kind
    raise TypeError(f"no SQL kind for {type(field).__name__}")


def _entity(model: type[Model]) -> Entity:
    meta = model._meta
    columns: dict[str, Column] = {}
    for name, db_column in meta.fields_db_projection.items():
        field = meta.fields_map[name]
        enum = field.enum_type if isinstance(field, CharEnumFieldInstance) else None
        columns[name] = Column(name, db_column, _kind(field), bool(field.null), enum)
    relations: dict[str, Relation] = {}
    for name, field in meta.fields_map.items():
        if isinstance(field, ForeignKeyFieldInstance):
            target = field.related_model
            relations[name] = Relation(name, "one", target.__name__, field.source_field or f"{name}_id", "id")
        elif isinstance(field, BackwardFKRelation):
            relations[name] = Relation(name, "many", field.related_model.__name__, "id", field.relation_field)
    return Entity(model.__name__, meta.db_table, model, columns, relations)


@cache
def registry() -> dict[str, Entity]:
    """Every model by name; relations are resolved by Tortoise's model initialisation."""
    if not Tortoise.apps:
        Tortoise.init_models(["backend.models"], "models")
    return {
        name: _entity(model)
        for name in models.__all__
        if isinstance(model := getattr(models, name), type) and issubclass(model, Model)
    }


def entity(name: str) -> Entity:
    return registry()[name]
