"""A real HTTP receiver for webhook tests: a plain ASGI app under uvicorn on a free port, where
each test opens an inbox of its own (a path) and scripts its answers. The worker process is
`tests.conftest.worker`."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
import uvicorn

from tests.conftest import eventually, free_port


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
