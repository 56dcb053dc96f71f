"""Migrations build the schema the models describe."""

from __future__ import annotations

import asyncpg
import pytest
from tortoise import Tortoise, fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.fields.data import CharEnumFieldInstance

from backend.migrations import MigrationError, available, migrate, pending
from tests.conftest import Database

# Tortoise field class -> Postgres data_type of the column it maps to.
PG_TYPES: dict[type, str] = {
    fields.UUIDField: "uuid",
    fields.TextField: "text",
    fields.CharField: "character",
    CharEnumFieldInstance: "text",
    fields.IntField: "integer",
    fields.SmallIntField: "smallint",
    fields.BooleanField: "boolean",
    fields.DatetimeField: "timestamp with time zone",
    fields.DateField: "date",
    fields.DecimalField: "numeric",
    fields.JSONField: "jsonb",
    fields.BigIntField: "bigint",
    ArrayField: "ARRAY",
}


async def _columns(database: Database) -> dict[str, dict[str, asyncpg.Record]]:
    conn = await asyncpg.connect(database.superuser_url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, numeric_precision, numeric_scale "
            "FROM information_schema.columns WHERE table_schema = 'public' AND table_name IN "
            "(SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE')"  # views (audit_entries) have no model
        )
    finally:
        await conn.close()
    tables: dict[str, dict[str, asyncpg.Record]] = {}
    for row in rows:
        tables.setdefault(row["table_name"], {})[row["column_name"]] = row
    return tables


async def test_models_match_the_migrated_schema(database: Database, app_db: None) -> None:
    tables = await _columns(database)
    models = list(Tortoise.apps["models"].values())
    assert {m._meta.db_table for m in models} == set(tables) - {"schema_migrations"}
    for model in models:
        columns = tables[model._meta.db_table]
        described = {column: model._meta.fields_map[name] for name, column in model._meta.fields_db_projection.items()}
        assert set(described) == set(columns), model.__name__
        for column, field in described.items():
            actual = columns[column]
            where = f"{model.__name__}.{column}"
            expected = next(PG_TYPES[cls] for cls in type(field).__mro__ if cls in PG_TYPES)
            assert actual["data_type"] == expected or (expected, actual["data_type"]) == (
                "character",
                "character varying",
            ), where
            assert (actual["is_nullable"] == "YES") == field.null, where
            if isinstance(field, fields.DecimalField):
                assert (actual["numeric_precision"], actual["numeric_scale"]) == (
                    field.max_digits,
                    field.decimal_places,
                )


async def test_migrations_are_all_applied_and_rerunning_is_a_no_op(database: Database) -> None:
    assert await migrate(database.owner_url) == []
    conn = await asyncpg.connect(database.owner_url)
    try:
        assert await pending(conn) == []
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
    finally:
        await conn.close()
    assert versions == [m.version for m in available()]


async def test_an_edited_migration_is_refused(database: Database) -> None:
    conn = await asyncpg.connect(database.superuser_url)
    try:
        async with conn.transaction():
            await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = '0001'")
            with pytest.raises(MigrationError, match="changed after it was applied"):
                await pending(conn)
            raise asyncpg.exceptions.PostgresError("roll back")
    except asyncpg.exceptions.PostgresError:
        pass
    finally:
        await conn.close()
