"""Versioned SQL migrations and their runner.

Migrations are plain, reviewed SQL files (`NNNN_name.sql`) so that composite keys, RLS
policies and grants are first-class. The runner applies each pending file in its own
transaction as the owner role, under an advisory lock (several processes may start at
once), and records a checksum: an applied file that was edited later is refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from backend.db import connect_kwargs

MIGRATIONS_DIR = Path(__file__).parent
APP_ROLE = "rapport_app"
OWNER_ROLE = "rapport_owner"
_LOCK_KEY = 0x5261_7070  # "Rapp"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name must look like 0001_name.sql: {path.name}")
        found.append(Migration(match[1], match[2], path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


async def applied(conn: asyncpg.Connection) -> dict[str, str]:
    """version -> checksum of what the database has applied ({} before the first run)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {r["version"]: r["checksum"] for r in rows}


async def pending(conn: asyncpg.Connection) -> list[Migration]:
    done = await applied(conn)
    todo = []
    for migration in available():
        checksum = done.get(migration.version)
        if checksum is None:
            todo.append(migration)
        elif checksum != migration.checksum:
            raise MigrationError(f"migration {migration.version}_{migration.name} was changed after it was applied")
    return todo


async def migrate(dsn: str) -> list[str]:
    """Apply pending migrations as the owner role; returns the names applied."""
    conn = await asyncpg.connect(**connect_kwargs(dsn))
    try:
        roles = await conn.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = ANY($1)", [APP_ROLE, OWNER_ROLE])
        if roles < 2:
            raise MigrationError(
                f"roles {OWNER_ROLE} and {APP_ROLE} must exist: "
                "run `python -m backend.cli bootstrap` as a superuser first"
            )
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    text PRIMARY KEY,
                       name       text NOT NULL,
                       checksum   text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            await conn.execute(f"GRANT SELECT ON schema_migrations TO {APP_ROLE}")
            done = []
            for migration in await pending(conn):
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                done.append(f"{migration.version}_{migration.name}")
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
