"""A small GraphQL-over-WebSocket client for tests (both subprotocols), on `websockets`."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
WAIT = 10.0


class Client:
    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self._pending: deque[dict[str, Any]] = deque()

    @property
    def legacy(self) -> bool:
        return self.protocol == LEGACY_WS

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def receive(self, wait: float = WAIT) -> dict[str, Any]:
        """The next message other than keep-alives (answering pings)."""
        if self._pending:
            return self._pending.popleft()
        while True:
            message: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.ws.recv(), wait))
            if message["type"] == "ping":
                await self.send({"type": "pong"})
            elif message["type"] not in ("pong", "ka"):
                return message

    async def init(self, authorization: str | None) -> dict[str, Any]:
        await self.send(
            {"type": "connection_init", "payload": {"Authorization": authorization} if authorization else {}}
        )
        return await self.receive()

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        """Subscribe; with graphql-transport-ws, return once the operation is live (the server
        answers a ping sent after `subscribe` only then)."""
        payload = {"query": query, "variables": variables or {}}
        await self.send({"type": "start" if self.legacy else "subscribe", "id": op_id, "payload": payload})
        if self.legacy:
            return
        await self.send({"type": "ping"})
        early = []
        while True:
            message: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.ws.recv(), WAIT))
            if message["type"] == "pong":
                break
            if message["type"] == "ping":
                await self.send({"type": "pong"})
            else:
                early.append(message)
        self._pending.extend(early)

    async def next(self, op_id: str = "1", wait: float = WAIT) -> dict[str, Any]:
        """The data of the operation's next result (fails on anything else)."""
        message = await self.receive(wait)
        assert message.get("id") == op_id and message["type"] == ("data" if self.legacy else "next"), message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def quiet(self, seconds: float = 0.5) -> None:
        """Assert that nothing but keep-alives arrives for a while."""
        try:
            message = await self.receive(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {message}")

    async def closed(self, wait: float = WAIT) -> tuple[int | None, str | None]:
        """Read until the server closes; its close code and reason."""
        try:
            async with asyncio.timeout(wait):
                while True:
                    await self.ws.recv()
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                return None, None
            return closed.rcvd.code, closed.rcvd.reason
        raise AssertionError("unreachable")


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/graphql"


@asynccontextmanager
async def connected(http_url: str, protocol: str = TRANSPORT_WS, **options: Any) -> AsyncIterator[Client]:
    async with connect(ws_url(http_url), subprotocols=[protocol], compression=None, **options) as ws:  # type: ignore[list-item]
        yield Client(ws, protocol)


@asynccontextmanager
async def subscription(
    http_url: str,
    token: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    protocol: str = TRANSPORT_WS,
    **options: Any,
) -> AsyncIterator[Client]:
    """A connection, acknowledged, with operation "1" subscribed."""
    async with connected(http_url, protocol, **options) as client:
        ack = await client.init(f"Bearer {token}")
        assert ack["type"] == "connection_ack", ack
        await client.subscribe("1", query, variables)
        yield client
