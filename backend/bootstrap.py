"""Cluster set-up that needs a superuser: the two roles and the database.

Everything after this (schema, RLS, grants) is a migration run by the owner role.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from backend.db import connect_kwargs
from backend.migrations import OWNER_ROLE

ROLES_SQL = Path(__file__).resolve().parent.parent / "infra" / "postgres" / "roles.sql"


async def bootstrap(superuser_dsn: str, database: str) -> bool:
    """Create the roles and (if missing) the database owned by the owner role.

    Returns True when the database was created.
    """
    conn = await asyncpg.connect(**connect_kwargs(superuser_dsn))
    try:
        await conn.execute(ROLES_SQL.read_text())
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            return False
        # Identifiers cannot be bind parameters; quote_ident keeps any name safe.
        name = await conn.fetchval("SELECT quote_ident($1)", database)
        await conn.execute(f"CREATE DATABASE {name} OWNER {OWNER_ROLE}")
        return True
    finally:
        await conn.close()


async def drop_database(superuser_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(**connect_kwargs(superuser_dsn))
    try:
        name = await conn.fetchval("SELECT quote_ident($1)", database)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()
