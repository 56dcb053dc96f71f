"""Rapport's own benchmark database: create it, load the harness's dataset into it, clean up.

Used by bench/rapport.py (the harness's prepare_db / check_created / cleanup hooks). It runs in
the harness's Python (asyncpg, no Rapport imports); Rapport's own bootstrap and migrations run
in Rapport's interpreter through `python -m backend.cli`, so the schema is exactly production's.

Ids: every bench row keeps its integer id as `uuid.UUID(int=bench_id)` (tenants too), so the
harness maps ids both ways without a lookup.

Load (about 2.8M rows): the bench DB streams `COPY (SELECT <mapped columns>) TO STDOUT` straight
into `COPY <table> FROM STDIN` of Rapport's database (two psql processes and a pipe, no Python
in the data path), in binary format (no text parsing of UUIDs and timestamps; the SELECTs
produce exactly the target column types, or COPY fails loudly). Foreign keys, primary/unique
keys and indexes of the loaded tables are taken from the catalog, dropped before the load and
recreated after it: bulk index builds and one set-based FK validation per constraint are about
twice as fast as maintaining them row by row, and give compact indexes. The load runs with
session_replication_role = replica so that row triggers (audit, events) do not fire for a
snapshot. A database comment records what was loaded (a key over the dataset, the column
mapping and the migrations) and when; prepare_db skips everything while the key matches and rebuilds the
database from scratch when it does not.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DATABASE = os.environ.get("RAPPORT_BENCH_DB", "rapport_bench")
# prepare_db drops and recreates this database: never let it name anything but a bench copy.
if not re.fullmatch(r"[a-z0-9_]*bench[a-z0-9_]*", DATABASE):
    raise ValueError(f"RAPPORT_BENCH_DB={DATABASE!r}: a bench database name is lower-case and contains 'bench'")
APP_ROLE = "rapport_app"
OWNER_ROLE = "rapport_owner"
# The JWT subject of every bench request; one user per tenant is created with it, so the
# API never provisions users concurrently on the first requests of a run.
BENCH_SUBJECT = "bench-admin"
# Tables streamed at the same time, the largest first: on 2 cores two pipelines keep both busy.
LOAD_LANES = 2


def bench_uuid(column: str) -> str:
    """SQL: a bench integer id as the UUID with the same integer value (uuid.UUID(int=id))."""
    return f"lpad(to_hex({column}), 32, '0')::uuid"


def user_uuid(tenant: str, login: str) -> str:
    """SQL: the id of the user created for a bench login (owner/assignee names, the bench admin)."""
    return f"md5('bench-user:' || {tenant} || ':' || {login})::uuid"


# Table -> (Rapport's columns, SELECT on the bench DB producing them in that order).
# Rows keep the bench's names, timestamps and totals exactly (the harness's reference answers
# are computed on the bench DB); what Rapport has and the bench does not is derived or left NULL.
LOAD: dict[str, tuple[str, str]] = {
    "tenants": (
        "id, name, slug, created_at, updated_at",
        f"SELECT {bench_uuid('id')}, name, slug, created_at, created_at FROM tenants",
    ),
    # The bench's account owners and ticket assignees are free-text logins: each becomes a user
    # of its tenant (owner_id / assignee_id point at it), plus the bench admin (JWT subject).
    "users": (
        "tenant_id, id, external_id, email, name, created_at, updated_at",
        f"""SELECT {bench_uuid("u.tenant_id")}, {user_uuid("u.tenant_id", "u.login")}, u.login,
                   u.login || '@tenant-' || u.tenant_id || '.example',
                   initcap(replace(replace(u.login, '.', ' '), '-', ' ')), t.created_at, t.created_at
            FROM (SELECT id AS tenant_id, '{BENCH_SUBJECT}' AS login FROM tenants
                  UNION SELECT tenant_id, owner FROM accounts
                  UNION SELECT tenant_id, assignee FROM tickets WHERE assignee IS NOT NULL) u
            JOIN tenants t ON t.id = u.tenant_id""",
    ),
    # Every bench account has orders: lifecycle stage 'customer'. The bench has no domain column,
    # but its contacts' emails are at the account's domain (<words><id>.example): taken from there.
    "accounts": (
        "tenant_id, id, name, domain, industry, owner_id, lifecycle_stage, tier, created_at, updated_at",
        f"""SELECT {bench_uuid("a.tenant_id")}, {bench_uuid("a.id")}, a.name,
                   (SELECT split_part(c.email, '@', 2) FROM contacts c
                    WHERE c.tenant_id = a.tenant_id AND c.account_id = a.id ORDER BY c.id LIMIT 1),
                   a.industry, {user_uuid("a.tenant_id", "a.owner")}, 'customer', a.tier, a.created_at, a.created_at
            FROM accounts a""",
    ),
    # Bench phones look like +1-555-1234567; Rapport stores E.164 (^\+[1-9][0-9]{6,14}$), so the
    # separators are dropped (+15551234567) and anything still invalid becomes NULL.
    "contacts": (
        "tenant_id, id, account_id, first_name, last_name, email, phone, created_at, updated_at",
        f"""SELECT {bench_uuid("tenant_id")}, {bench_uuid("id")}, {bench_uuid("account_id")},
                   first_name, last_name, email,
                   CASE WHEN regexp_replace(phone, '[^0-9+]', '', 'g') ~ '^\\+[1-9][0-9]{{6,14}}$'
                        THEN regexp_replace(phone, '[^0-9+]', '', 'g') END,
                   created_at, created_at
            FROM contacts""",
    ),
    # Orders have no lines in the bench: the total is loaded as is; the number is derived.
    "orders": (
        "tenant_id, id, account_id, number, status, ordered_at, currency, total, created_at, updated_at",
        f"""SELECT {bench_uuid("tenant_id")}, {bench_uuid("id")}, {bench_uuid("account_id")}, 'B-' || id,
                   status, ordered_at, currency, total, ordered_at, ordered_at
            FROM orders""",
    ),
    "tickets": (
        "tenant_id, id, account_id, contact_id, subject, status, priority, assignee_id, created_at, updated_at",
        f"""SELECT {bench_uuid("tenant_id")}, {bench_uuid("id")}, {bench_uuid("account_id")},
                   CASE WHEN contact_id IS NOT NULL THEN {bench_uuid("contact_id")} END,
                   subject, status, priority,
                   CASE WHEN assignee IS NOT NULL THEN {user_uuid("tenant_id", "assignee")} END,
                   created_at, created_at
            FROM tickets""",
    ),
    # Bench feedback is a 0-10 score: an NPS answer. An empty comment is no comment.
    "feedback": (
        "tenant_id, id, account_id, kind, score, comment, created_at, updated_at",
        f"""SELECT {bench_uuid("tenant_id")}, {bench_uuid("id")}, {bench_uuid("account_id")}, 'nps',
                   score, nullif(comment, ''), created_at, created_at
            FROM feedback""",
    ),
}


def log(message: str) -> None:
    print(f"rapport bench: {message}", file=sys.stderr, flush=True)


def with_user_and_db(dsn: str, user: str, database: str) -> str:
    """The same server as `dsn`, as another role on another database."""
    parts = urlsplit(dsn)
    netloc = f"{user}@{parts.hostname or '127.0.0.1'}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, ""))


def superuser_dsn(env: Mapping[str, str], database: str) -> str:
    source = env["SOURCE_DSN"]
    return with_user_and_db(source, urlsplit(source).username or "root", database)


def app_dsn(reference_dsn: str) -> str:
    """Rapport's application role on Rapport's bench database, on the server of `reference_dsn`."""
    return with_user_and_db(reference_dsn, APP_ROLE, DATABASE)


def dataset_rows(env: Mapping[str, str]) -> dict[str, int]:
    rows: dict[str, int] = json.loads(Path(env["DATASET_META"]).read_text())["rows"]
    return rows


def load_key(env: Mapping[str, str], product_dir: Path) -> str:
    """What the loaded copy depends on: the dataset, the column mapping (LOAD), this loader's own
    steps (its source) and Rapport's migrations."""
    meta = json.loads(Path(env["DATASET_META"]).read_text())
    digest = hashlib.sha256(Path(__file__).read_bytes())
    # Timings in dataset.json change on every generation; the rows depend only on these.
    digest.update(json.dumps({k: meta[k] for k in ("scale", "rows", "max_ticket_id")}, sort_keys=True).encode())
    digest.update(json.dumps(LOAD).encode())
    for migration in sorted((product_dir / "backend" / "migrations").glob("*.sql")):
        digest.update(migration.name.encode() + migration.read_bytes())
    return digest.hexdigest()


async def read_marker(env: Mapping[str, str]) -> dict[str, Any] | None:
    conn = await asyncpg.connect(superuser_dsn(env, "postgres"))
    try:
        comment = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", DATABASE
        )
    finally:
        await conn.close()
    try:
        marker = json.loads(comment) if comment else None
    except ValueError:
        return None
    return marker if isinstance(marker, dict) else None


def rapport_cli(product_dir: Path, args: list[str], env: Mapping[str, str]) -> None:
    """Run `python -m backend.cli ...` with Rapport's own interpreter and a clean RAPPORT_* env."""
    child = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    child.update(env)
    python = product_dir / ".venv" / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"{python} not found: run `make install` in {product_dir}")
    subprocess.run([str(python), "-m", "backend.cli", *args], cwd=product_dir, env=child, check=True)  # noqa: S603


async def prepare(env: Mapping[str, str], product_dir: Path) -> None:
    key = load_key(env, product_dir)
    marker = await read_marker(env)
    if marker is not None and marker.get("key") == key:
        log(f"{DATABASE} already holds this dataset (loaded {marker['loaded_at']} in {marker['load_seconds']} s)")
        return
    started = time.monotonic()
    await create_schema(env, product_dir)
    schema_seconds = time.monotonic() - started
    expected = dataset_rows(env)
    target = superuser_dsn(env, DATABASE)
    conn = await asyncpg.connect(target)
    try:
        await copy_database_settings(env, conn)
        rebuild = await drop_keys_and_indexes(conn, list(LOAD))
        t0 = time.monotonic()
        lanes = asyncio.Semaphore(LOAD_LANES)

        async def load(table: str) -> None:
            async with lanes:
                started_table = time.monotonic()
                await asyncio.to_thread(stream_table, env["SOURCE_DSN"], target, table, *LOAD[table])
                log(f"loaded {table} in {time.monotonic() - started_table:.1f} s")

        largest_first = sorted(LOAD, key=lambda t: -expected.get(t, 0))
        await asyncio.gather(*(load(table) for table in largest_first))
        log(f"rows loaded in {time.monotonic() - t0:.1f} s")
        t0 = time.monotonic()
        await recreate(target, rebuild, largest_first)
        log(f"keys, indexes and foreign keys rebuilt in {time.monotonic() - t0:.1f} s")
        t0 = time.monotonic()
        await conn.execute("VACUUM (ANALYZE)")
        log(f"VACUUM ANALYZE in {time.monotonic() - t0:.1f} s")
        # Every tenant gets its default roles and its bench user the admin role, through Rapport's
        # own operator command (before the marker: cleanup deletes what was created after it).
        grant = ["role", "bind", "--all-tenants", "--user", BENCH_SUBJECT, "--role", "admin"]
        await asyncio.to_thread(rapport_cli, product_dir, grant, {"RAPPORT_DATABASE_URL": app_dsn(env["SOURCE_DSN"])})
        rows = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in LOAD}
        wrong = {t: (rows[t], n) for t, n in expected.items() if rows.get(t) != n}
        if wrong:
            raise RuntimeError(f"loaded row counts differ from the dataset (loaded, expected): {wrong}")
        total = time.monotonic() - started
        marker = {
            "key": key,
            "loaded_at": (await conn.fetchval("SELECT now()")).isoformat(),
            "load_seconds": round(total, 1),
            "schema_seconds": round(schema_seconds, 1),
            "rows": rows,
        }
        # Written last: a load that died half-way leaves no marker and is redone from scratch.
        comment = await conn.fetchval("SELECT quote_literal($1)", json.dumps(marker))
        await conn.execute(f'COMMENT ON DATABASE "{DATABASE}" IS {comment}')
    finally:
        await conn.close()
    log(f"{DATABASE} ready in {total:.1f} s (schema {schema_seconds:.1f} s): {rows}")


async def create_schema(env: Mapping[str, str], product_dir: Path) -> None:
    """A fresh database with Rapport's roles, bootstrap and migrations (Rapport's own CLI)."""
    postgres = await asyncpg.connect(superuser_dsn(env, "postgres"))
    try:
        await postgres.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    finally:
        await postgres.close()
    app_url = app_dsn(env["SOURCE_DSN"])
    owner_url = with_user_and_db(app_url, OWNER_ROLE, DATABASE)
    bootstrap = ["bootstrap", "--superuser-url", superuser_dsn(env, "postgres")]
    await asyncio.to_thread(rapport_cli, product_dir, bootstrap, {"RAPPORT_DATABASE_URL": app_url})
    migrate_env = {"RAPPORT_DATABASE_URL": app_url, "RAPPORT_OWNER_DATABASE_URL": owner_url}
    await asyncio.to_thread(rapport_cli, product_dir, ["migrate"], migrate_env)


async def copy_database_settings(env: Mapping[str, str], conn: asyncpg.Connection) -> None:
    """The bench DB's own settings (jit = off, work_mem = 32MB) apply to Rapport's copy too."""
    source = await asyncpg.connect(env["SOURCE_DSN"])
    try:
        settings = await source.fetchval(
            """SELECT setconfig FROM pg_db_role_setting
               WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())"""
        )
    finally:
        await source.close()
    for setting in settings or []:
        name, _, value = setting.partition("=")
        literal = await conn.fetchval("SELECT quote_literal($1)", value)
        await conn.execute(f'ALTER DATABASE "{DATABASE}" SET {name} = {literal}')


@dataclass(frozen=True)
class Rebuild:
    """DDL that restores what drop_keys_and_indexes dropped."""

    by_table: dict[str, list[str]]  # primary/unique keys, then indexes; tables are independent
    foreign_keys: list[str]  # after every key exists


async def drop_keys_and_indexes(conn: asyncpg.Connection, tables: list[str]) -> Rebuild:
    """Drop the FKs touching `tables`, their key constraints and indexes; return the DDL to recreate them.

    FKs of other tables that reference a loaded table (order_lines -> orders) go too, or
    dropping the referenced key would cascade them away without a trace.
    """
    oids = [await conn.fetchval("SELECT $1::regclass::oid", t) for t in tables]
    fks = await conn.fetch(
        """SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
           WHERE contype = 'f' AND (conrelid = ANY($1) OR confrelid = ANY($1)) ORDER BY conrelid, conname""",
        oids,
    )
    keys = await conn.fetch(
        """SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
           WHERE contype IN ('p', 'u', 'x') AND conrelid = ANY($1) ORDER BY conrelid, contype, conname""",
        oids,
    )
    indexes = await conn.fetch(
        """SELECT i.indrelid::regclass::text AS tbl, i.indexrelid::regclass::text AS name,
                  pg_get_indexdef(i.indexrelid) AS def
           FROM pg_index i
           WHERE i.indrelid = ANY($1)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                             WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))
           ORDER BY i.indrelid, i.indexrelid""",
        oids,
    )
    async with conn.transaction():
        for fk in fks:
            await conn.execute(f'ALTER TABLE {fk["tbl"]} DROP CONSTRAINT "{fk["conname"]}"')
        for key in keys:
            await conn.execute(f'ALTER TABLE {key["tbl"]} DROP CONSTRAINT "{key["conname"]}"')
        for index in indexes:
            await conn.execute(f"DROP INDEX {index['name']}")
    by_table: dict[str, list[str]] = {t: [] for t in tables}
    for key in keys:
        by_table[key["tbl"]].append(f'ALTER TABLE {key["tbl"]} ADD CONSTRAINT "{key["conname"]}" {key["def"]}')
    for index in indexes:
        by_table[index["tbl"]].append(index["def"])
    return Rebuild(
        by_table=by_table,
        foreign_keys=[f'ALTER TABLE {f["tbl"]} ADD CONSTRAINT "{f["conname"]}" {f["def"]}' for f in fks],
    )


def stream_table(source_dsn: str, target_dsn: str, table: str, columns: str, select: str) -> None:
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    out = subprocess.Popen(  # noqa: S603
        [*psql, "-d", source_dsn, "-c", f"COPY ({select}) TO STDOUT (FORMAT binary)"], stdout=subprocess.PIPE
    )
    assert out.stdout is not None
    into = subprocess.Popen(  # noqa: S603
        [*psql, "-d", target_dsn, "-c", f"COPY {table} ({columns}) FROM STDIN (FORMAT binary)"],
        stdin=out.stdout,
        env={**os.environ, "PGOPTIONS": "-c session_replication_role=replica"},
    )
    out.stdout.close()  # the reader owns the pipe now: it sees EOF when the writer exits
    if into.wait() != 0 or out.wait() != 0:
        raise RuntimeError(f"loading {table} failed")


async def recreate(target_dsn: str, rebuild: Rebuild, largest_first: list[str]) -> None:
    """Keys and indexes table by table in LOAD_LANES sessions (an index build sorts on one core,
    a PRIMARY KEY locks its table), then the foreign keys, each validated by one join."""
    settings = {"maintenance_work_mem": "256MB"}
    lanes = asyncio.Semaphore(LOAD_LANES)

    async def build(table: str) -> None:
        async with lanes:
            conn = await asyncpg.connect(target_dsn, server_settings=settings)
            try:
                for statement in rebuild.by_table[table]:
                    await conn.execute(statement)
            finally:
                await conn.close()

    await asyncio.gather(*(build(table) for table in largest_first))
    conn = await asyncpg.connect(target_dsn, server_settings=settings)
    try:
        for statement in rebuild.foreign_keys:
            await conn.execute(statement)
    finally:
        await conn.close()


async def check_ticket(env: Mapping[str, str], p: Mapping[str, Any], ticket: int) -> str | None:
    """The ticket a create_ticket request reported exists with the request's tenant, account,
    subject and priority, open (p: the harness's parameters, bench ids).

    The check also deletes it: `bench.py verify` checks the dashboard (ticket counts) after
    create_ticket and cleans up only at the end, and its reference answers come from the bench
    DB, which never sees the tickets created here, so a checked ticket must not stay behind.
    """
    conn = await asyncpg.connect(superuser_dsn(env, DATABASE))
    try:
        row = await conn.fetchrow(
            "DELETE FROM tickets WHERE id = $1 RETURNING tenant_id, account_id, subject, priority, status",
            uuid.UUID(int=ticket),
        )
    finally:
        await conn.close()
    if row is None:
        return f"ticket {uuid.UUID(int=ticket)} not found in {DATABASE}"
    expected = (uuid.UUID(int=p["tenant"]), uuid.UUID(int=p["account_id"]), p["subject"], p["priority"], "open")
    if tuple(row) != expected:
        return f"ticket {uuid.UUID(int=ticket)} is {tuple(row)}, expected {expected}"
    return None


async def delete_created(env: Mapping[str, str]) -> dict[str, int]:
    """Delete every row created after the load (tickets of create_ticket runs and whatever a
    mutation writes with them: events, audit rows, ...), children before parents; vacuum."""
    marker = await read_marker(env)
    if marker is None:
        raise RuntimeError(f"{DATABASE} has no load marker: run prepare_db first")
    conn = await asyncpg.connect(superuser_dsn(env, DATABASE))
    try:
        # Rows say when they were written in `created_at`, or `at` for the append-only logs
        # (audit_log, events): those grow with every run too and would slow the next one. (Were
        # a table to have both, created_at, ordered last, wins.)
        written_at = {
            r["table_name"]: r["column_name"]
            for r in await conn.fetch(
                """SELECT table_name, column_name FROM information_schema.columns
                   WHERE table_schema = 'public' AND column_name IN ('created_at', 'at')
                     AND table_name IN (SELECT tablename FROM pg_tables WHERE schemaname = 'public')
                   ORDER BY column_name"""
            )
        }
        tables = list(written_at)
        edges = await conn.fetch(
            """SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent FROM pg_constraint
               WHERE contype = 'f' AND conrelid <> confrelid"""
        )
        deleted: dict[str, int] = {}
        async with conn.transaction():
            # Like the load: no triggers (the audit and outbox triggers need a tenant; what the
            # runs wrote to audit and outbox is itself deleted here, children first).
            await conn.execute("SET LOCAL session_replication_role = replica")
            for table in children_first(tables, [(e["child"], e["parent"]) for e in edges]):
                status = await conn.execute(f"DELETE FROM {table} WHERE {written_at[table]} > $1", marker_time(marker))
                count = int(status.split()[-1])
                if count:
                    deleted[table] = count
        for table in deleted:
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        return deleted
    finally:
        await conn.close()


def marker_time(marker: Mapping[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(marker["loaded_at"])


def children_first(tables: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """`tables` ordered so that a table comes before every table it references."""
    remaining = set(tables)
    ordered: list[str] = []
    while remaining:
        referenced = {parent for child, parent in edges if child in remaining}
        ready = sorted(remaining - referenced) or sorted(remaining)  # a cycle: any order
        ordered.extend(ready)
        remaining -= set(ready)
    return ordered
