"""`python -m backend.cli`: operate Rapport from a shell.

Like `backend/app.py`, this module is a composition root: it may reach into `tenants/`
(provisioning) because it wires the whole application together for an operator.

Every failure prints one line (`rapport: ...`) and exits with status 1 or 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import quote, urlsplit

import asyncpg
import uvloop
from pydantic import SecretStr

from backend import db, embedded
from backend.bootstrap import bootstrap
from backend.crypto import new_key
from backend.errors import AppError
from backend.migrations import MigrationError, available, migrate
from backend.seed import SeedSize, seed_tenant
from backend.settings import ConfigError, Settings, load_settings, reference_table
from tenants.provisioning import provision_tenant

# backend.app (uvicorn, the GraphQL schema), backend.auth (JWT, cryptography) and jobs (the
# broker) are imported inside the commands that use them: the other commands start in about half the time.

log = logging.getLogger("rapport.cli")

DEMO_TENANT_ID = uuid.UUID("00000000-0000-4000-8000-00000000d3e0")
DEMO_ADMIN = {"subject": "demo-admin", "email": "admin@demo.example.com", "name": "Demo Admin"}
# user:PASSWORD@ in a URL's authority, or a password= query parameter.
_URL_PASSWORD = re.compile(r"(?<=://)([^/:@]*:)[^/@]*(?=@)|(?<=[?&])(password=)[^&]*")


class CliError(Exception):
    """A failure to report as one line."""


# -- commands ---------------------------------------------------------------------------------


async def cmd_bootstrap(settings: Settings, args: argparse.Namespace) -> None:
    database = _database_name(settings.database_url) if settings.database_url else embedded.DATABASE
    created = await bootstrap(args.superuser_url, database)
    print(f"roles ready; database {database} {'created' if created else 'exists already'}")


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    url = settings.migration_url
    if url is None:
        raise CliError("no database configured: set RAPPORT_OWNER_DATABASE_URL (or RAPPORT_DATABASE_URL)")
    done = await migrate(url)
    print("applied: " + ", ".join(done) if done else "database is up to date")


async def cmd_tenant_create(settings: Settings, args: argparse.Namespace) -> None:
    async with _database(settings):
        tenant = await provision_tenant(args.name, slug=args.slug)
    print(json.dumps({"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name}))


async def cmd_tenant_list(settings: Settings, args: argparse.Namespace) -> None:
    async with _database(settings):
        for row in await db.tenant_directory():
            print(f"{row['id']}  {row['slug']:<24} {row['name']}")


async def cmd_seed(settings: Settings, args: argparse.Namespace) -> None:
    size = SeedSize(
        accounts=args.accounts,
        contacts_per_account=args.contacts_per_account,
        orders_per_contact=args.orders_per_contact,
        lines_per_order=args.lines_per_order,
        tickets_per_contact=args.tickets_per_contact,
        feedback_per_contact=args.feedback_per_contact,
        products=args.products,
        users=args.users,
    )
    async with _database(settings):
        if args.tenant:
            targets = [await _resolve_tenant(args.tenant)]
        else:
            targets = []
            for i in range(args.tenants):
                tenant_id = uuid.uuid5(uuid.NAMESPACE_URL, f"rapport:seed:{args.seed}:{i}")
                tenant = await provision_tenant(
                    f"Seed Tenant {i + 1}", slug=f"seed-{args.seed}-{i + 1}", tenant_id=tenant_id
                )
                targets.append(tenant.id)
        for tenant_id in targets:
            async with db.tenant_transaction(tenant_id) as tx:
                result = await seed_tenant(tx, size, seed=args.seed)
            print(json.dumps({"tenant": str(tenant_id), **asdict(result)}))


async def cmd_role_bind(settings: Settings, args: argparse.Namespace) -> None:
    """Give a user a role on the operator's authority: a tenant's first admin, or a lost one."""
    from policies.admin import operator_bind  # noqa: PLC0415
    from policies.catalog import Catalog  # noqa: PLC0415
    from schema import schema  # noqa: PLC0415

    catalog = Catalog(schema._schema)
    async with _database(settings):
        tenant_ids = (
            [row["id"] for row in await db.tenant_directory()]
            if args.all_tenants
            else [await _resolve_tenant(args.tenant)]
        )
        for tenant_id in tenant_ids:
            async with db.tenant_transaction(tenant_id) as tx:
                user_id = await tx.fetchval(
                    "SELECT id FROM users WHERE tenant_id = $1 AND external_id = $2", tenant_id, args.user
                )
                if user_id is None:
                    raise CliError(f"tenant {tenant_id} has no user with the subject '{args.user}'")
                await operator_bind(tx, catalog, role=args.role, user_id=user_id)
            print(f"{tenant_id}: {args.user} is {args.role}")


async def cmd_secrets_new_key(settings: Settings, args: argparse.Namespace) -> None:
    print(f"{args.id}:{new_key()}")


async def cmd_secrets_reseal(settings: Settings, args: argparse.Namespace) -> None:
    """Seal every stored secret with the first key of RAPPORT_SECRETS_KEYS (after a rotation, or
    for values stored in clear by an older version); then older keys can be dropped."""
    from backend.webhooks.service import reseal  # noqa: PLC0415

    async with _database(settings):
        total = 0
        for row in await db.tenant_directory():
            async with db.tenant_transaction(row["id"]) as tx:
                total += await reseal(tx, settings.keyring)
    print(f"resealed {total} secret(s) with key {settings.keyring.current!r}")


async def cmd_token(settings: Settings, args: argparse.Namespace) -> None:
    from backend.auth import issue_token  # noqa: PLC0415

    async with _database(settings):
        tenant_id = await _resolve_tenant(args.tenant)
    email = args.email or (args.user if "@" in args.user else f"{args.user}@example.com")
    print(
        issue_token(
            settings, tenant_id=tenant_id, subject=args.user, roles=args.role, email=email, ttl_seconds=args.ttl
        )
    )


async def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    if settings.database_url is None:
        raise CliError("RAPPORT_DATABASE_URL is not set (use `make run` for a local database)")
    await _serve(settings, args.host or settings.host, args.port or settings.port)


async def cmd_run(settings: Settings, args: argparse.Namespace) -> None:
    """Zero set-up development server: local Postgres, migrations, demo tenant, token, API."""
    from backend.auth import issue_token  # noqa: PLC0415

    server = None
    if settings.database_url is None:
        print("starting the project-local Postgres in", settings.embedded_data_dir, flush=True)
        server = await asyncio.to_thread(embedded.start, settings.embedded_data_dir)
        await bootstrap(server.superuser_url, embedded.DATABASE)
        settings = settings.model_copy(
            update={"database_url": server.url("rapport_app"), "owner_database_url": server.url("rapport_owner")}
        )
    try:
        if settings.owner_database_url:
            await migrate(settings.owner_database_url)
        async with _database(settings):
            waiting = await _pending_migrations()
            if waiting:
                raise CliError(f"migrations pending ({', '.join(waiting)}): run `make migrate`")
            created = await _ensure_demo_tenant()
        host, port = args.host or settings.host, args.port or settings.port
        token = issue_token(
            settings, tenant_id=DEMO_TENANT_ID, subject=DEMO_ADMIN["subject"], roles=["admin"],
            email=DEMO_ADMIN["email"], name=DEMO_ADMIN["name"],
        )  # fmt: skip
        headers = quote(json.dumps({"Authorization": f"Bearer {token}"}))
        banner = (
            f"\nRapport is running: http://{host}:{port}/graphql   (Ctrl-C stops it)\n"
            f"Demo tenant 'Demo Company' ({'created with demo data' if created else 'existing data kept'}).\n"
            f'Admin token, for GraphiQL\'s Headers tab as {{"Authorization": "Bearer <token>"}}:\n\n{token}\n\n'
            f"Or open GraphiQL with the header filled in:\nhttp://{host}:{port}/graphql?headers={headers}\n"
            f"\nBackground jobs (webhooks) need a broker: with Redis on {settings.broker_url}, in another terminal\n"
            f"RAPPORT_DATABASE_URL='{settings.database_url}' make worker\n"
        )
        await _serve(settings, host, port, banner=banner)
    finally:
        if server is not None:
            print("stopping the project-local Postgres", flush=True)
            await asyncio.to_thread(server.stop)


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    """Background jobs: webhook deliveries, the dispatcher, retention; until Ctrl-C or SIGTERM."""
    from backend.app import wire_jobs  # noqa: PLC0415 - see the note on imports above
    from jobs.worker import serve  # noqa: PLC0415

    async with _database(settings):
        listener, access = wire_jobs(settings)
        await serve(settings, listener, access.readable, threads=args.threads)


async def cmd_config(settings: Settings, args: argparse.Namespace) -> None:
    if args.reference:
        print(reference_table(), end="")
        return
    for name, value in settings.model_dump().items():
        print(f"RAPPORT_{name.upper()}={_printable(value)}")


# -- helpers ----------------------------------------------------------------------------------


class _database:
    """Open the application role's pool for the duration of a command."""

    def __init__(self, settings: Settings) -> None:
        if settings.database_url is None:
            raise CliError("RAPPORT_DATABASE_URL is not set")
        self.settings = settings

    async def __aenter__(self) -> None:
        await db.init_db(self.settings)

    async def __aexit__(self, *exc: object) -> None:
        await db.close_db()


async def _pending_migrations() -> list[str]:
    applied = await db.applied_migrations()
    return [f"{m.version}_{m.name}" for m in available() if m.version not in applied]


async def _ensure_demo_tenant() -> bool:
    existing = {row["id"] for row in await db.tenant_directory()}
    if DEMO_TENANT_ID in existing:
        return False
    await provision_tenant("Demo Company", slug="demo", tenant_id=DEMO_TENANT_ID)
    async with db.tenant_transaction(DEMO_TENANT_ID) as tx:
        await seed_tenant(tx, SeedSize(), seed=7)
    return True


async def _resolve_tenant(value: str) -> uuid.UUID:
    rows = await db.tenant_directory()
    for row in rows:
        if str(row["id"]) == value or row["slug"] == value:
            found: uuid.UUID = row["id"]
            return found
    raise CliError(f"no tenant with the id or slug '{value}'")


def _printable(value: object) -> str:
    """A setting as an operator may see it: secrets and passwords inside URLs hidden."""
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return "(hidden)"
    if isinstance(value, bool):
        return str(value).lower()
    return _URL_PASSWORD.sub(lambda m: f"{m[1] or m[2]}(hidden)", str(value))


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "rapport"


async def _serve(settings: Settings, host: str, port: int, *, banner: str | None = None) -> None:
    from backend.app import serve  # noqa: PLC0415 - see the note on imports above

    await serve(settings, host, port, banner=banner)


# -- argument parsing -------------------------------------------------------------------------

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, None]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend.cli", description="Operate Rapport.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("bootstrap", help="create the roles and the database (needs a superuser)")
    p.add_argument("--superuser-url", default="postgresql://root@127.0.0.1:5432/postgres", help="default: %(default)s")
    p.set_defaults(func=cmd_bootstrap)

    p = sub.add_parser("config", help="check the configuration and print it (secrets hidden)")
    p.add_argument("--reference", action="store_true", help="print every setting as a Markdown table instead")
    p.set_defaults(func=cmd_config)

    sub.add_parser("migrate", help="apply pending migrations as the owner role").set_defaults(func=cmd_migrate)

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(dest="tenant_command", required=True)
    p = tenant.add_parser("create", help="create a tenant")
    p.add_argument("name", help="display name, 1 to 200 characters")
    p.add_argument("--slug", help="lower-case letters, digits and dashes (default: derived from the name)")
    p.set_defaults(func=cmd_tenant_create)
    tenant.add_parser("list", help="list tenants").set_defaults(func=cmd_tenant_list)

    p = sub.add_parser("seed", help="write deterministic demo or benchmark data")
    p.add_argument("--tenant", help="seed this existing tenant (id or slug) instead of creating tenants")
    p.add_argument("--tenants", type=_positive, default=1, help="tenants to create and seed")
    for option, default in (
        ("--accounts", 300), ("--contacts-per-account", 4), ("--orders-per-contact", 2), ("--lines-per-order", 2),
        ("--tickets-per-contact", 1), ("--feedback-per-contact", 1), ("--products", 40), ("--users", 6),
    ):  # fmt: skip
        p.add_argument(option, type=_natural, default=default, help="default: %(default)s")
    p.add_argument("--seed", type=int, default=42, help="same seed, same rows (default: %(default)s)")
    p.set_defaults(func=cmd_seed)

    role = sub.add_parser("role", help="bind users to roles").add_subparsers(dest="role_command", required=True)
    p = role.add_parser("bind", help="give a user a role (operator action: no admin needed)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--tenant", help="tenant id or slug")
    which.add_argument("--all-tenants", action="store_true", help="every tenant")
    p.add_argument("--user", required=True, help="the user's subject (external id)")
    p.add_argument("--role", required=True, help="role name, e.g. admin")
    p.set_defaults(func=cmd_role_bind)

    secrets = sub.add_parser("secrets", help="keys that seal stored secrets (RAPPORT_SECRETS_KEYS)")
    secrets_sub = secrets.add_subparsers(dest="secrets_command", required=True)
    p = secrets_sub.add_parser("new-key", help="print a new random key entry for RAPPORT_SECRETS_KEYS")
    p.add_argument("--id", type=_key_id, default="k1", help="key id, letters and digits (default: %(default)s)")
    p.set_defaults(func=cmd_secrets_new_key)
    p = secrets_sub.add_parser("reseal", help="seal every stored secret with the first (current) key")
    p.set_defaults(func=cmd_secrets_reseal)

    p = sub.add_parser("token", help="print a development JWT (HS256, shared secret)")
    p.add_argument("--tenant", required=True, help="tenant id or slug")
    p.add_argument("--user", required=True, help="subject (and email if it contains @)")
    p.add_argument("--role", action="append", default=[], help="role (repeatable)")
    p.add_argument("--email", help="email claim (default: the user if it contains @, else USER@example.com)")
    p.add_argument("--ttl", type=_positive, default=12 * 3600, help="seconds until expiry")
    p.set_defaults(func=cmd_token)

    for name, func, text in (
        ("serve", cmd_serve, "serve the API"),
        ("run", cmd_run, "make run: local database + demo + API"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--host", help="default: RAPPORT_HOST")
        p.add_argument("--port", type=_positive, help="default: RAPPORT_PORT")
        p.set_defaults(func=func)

    p = sub.add_parser("worker", help="run background jobs (webhooks, dispatcher, retention) on the broker")
    p.add_argument("--threads", type=_positive, default=8, help="worker threads (default 8)")
    p.set_defaults(func=cmd_worker)
    return parser


def _key_id(text: str) -> str:
    if not text.isalnum() or len(text) > 32:
        raise argparse.ArgumentTypeError("1 to 32 letters or digits")
    return text


def _natural(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.command in ("run", "worker") else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("tortoise").setLevel(logging.WARNING)  # "Tortoise-ORM shutdown" after each command
    try:
        settings = load_settings()
        func: Command = args.func
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(func(settings, args))
    except (ConfigError, CliError, MigrationError) as exc:
        return _fail(str(exc), 2)
    except AppError as exc:
        return _fail(exc.message, 1)
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # refused, unknown host, unknown database (Tortoise raises a ConnectionError)
        return _fail(f"cannot reach the database: {exc}", 1)
    except asyncpg.PostgresError as exc:  # authentication, permissions, a failing migration statement
        return _fail(f"database error: {exc}", 1)
    return 0


def _fail(message: str, status: int) -> int:
    print("rapport: " + " ".join(message.split()), file=sys.stderr)  # always one line
    return status


if __name__ == "__main__":
    sys.exit(main())
