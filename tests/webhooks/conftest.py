"""A real worker process on a real Redis, and a real HTTP receiver, for webhook tests.

The worker (`python -m backend.cli worker`) runs against this session's database with its
own Redis key namespace and small retry settings; the receiver is a Starlette-free ASGI app
under uvicorn on a free port, where each test opens an inbox of its own (a path) and scripts
its answers.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
import redis.asyncio as redis
import uvicorn

from tests import processes
from tests.conftest import Database, free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
# Small numbers so that retries, dead letters and disabling happen within a test.
WORKER_SETTINGS = {
    "webhook_allowed_hosts": "127.0.0.1",
    "webhook_min_backoff_seconds": "0.2",
    "webhook_max_backoff_seconds": "0.4",
    "webhook_max_attempts": "4",
    "webhook_disable_after_hours": "0",
    "webhook_disable_after_failures": "6",
    "webhook_timeout_seconds": "5",
}
T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T | None]], *, within: float = 30.0) -> T:
    """The first truthy result of `check`, polled until `within` seconds have passed."""
    async with asyncio.timeout(within):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Request:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = orjson.loads(self.body)
        return loaded


@dataclass
class Inbox:
    url: str
    script: deque[int] = field(default_factory=deque)  # status codes to answer first
    otherwise: int = 200  # then this one
    requests: list[Request] = field(default_factory=list)

    async def wait(self, count: int, *, within: float = 30.0) -> list[Request]:
        async def arrived() -> list[Request] | None:
            return self.requests if len(self.requests) >= count else None

        return await eventually(arrived, within=within)


class Receiver:
    def __init__(self) -> None:
        self.inboxes: dict[str, Inbox] = {}
        self.base = ""

    def inbox(self, *, script: tuple[int, ...] = (), otherwise: int = 200) -> Inbox:
        path = f"/hooks/{uuid.uuid4().hex}"
        box = Inbox(self.base + path, deque(script), otherwise)
        self.inboxes[path] = box
        return box

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        box = self.inboxes.get(scope["path"])
        status = 404
        if box is not None:
            box.requests.append(Request({k.decode(): v.decode() for k, v in scope["headers"]}, body))
            status = box.script.popleft() if box.script else box.otherwise
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"nope"})


@pytest.fixture(scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    app = Receiver()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    app.base = f"http://127.0.0.1:{port}"
    try:
        yield app
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def worker(database: Database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[None]:
    """`python -m backend.cli worker` on this session's database and its own Redis namespace."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except redis.ConnectionError:
        pytest.exit(f"no Redis at {REDIS_URL}: start it (see .ci/run)", 2)
    namespace = f"rapport-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    env = processes.environment(
        database_url=database.app_url, broker_url=REDIS_URL, broker_namespace=namespace, **WORKER_SETTINGS
    )
    log: Path = tmp_path_factory.mktemp("worker") / "worker.log"
    process = await processes.start(sys.executable, "-m", "backend.cli", "worker", "--threads", "8", env=env, log=log)

    async def started() -> bool:
        text = await asyncio.to_thread(log.read_text)
        if process.returncode is not None:
            raise AssertionError("the worker exited:\n" + text)
        return "worker started" in text

    await eventually(started, within=processes.LIMIT_SECONDS)
    try:
        yield
    finally:
        process.terminate()
        await process.wait()
        keys = [key async for key in client.scan_iter(f"{namespace}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        assert process.returncode == 0, await asyncio.to_thread(log.read_text)
