"""The ASGI application: the composition root that wires every concern together.

`uvicorn backend.app:create_app --factory` builds it from the environment; tests and the
CLI pass their own `Settings`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import sys
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from backend import db
from backend.auth import Authenticator
from backend.events.hub import EventHub
from backend.listener import Listener
from backend.migrations import available
from backend.settings import ConfigError, Settings, get_settings
from policies.access import AccessControl
from policies.catalog import Catalog
from schema import schema
from schema.executor import GraphQLExecutor
from schema.http import GraphQLEndpoint
from schema.ws import RESTART_REASON, SERVICE_RESTART, Subscriptions

log = logging.getLogger("rapport")


@dataclass(frozen=True, slots=True)
class Services:
    """What serves GraphQL, wired once per process. Access control learns about policies and
    credentials that other processes change through the listener (NOTIFY); it must run
    (`listener.start()`) for changes to arrive within a second, or caches trust entries for
    a second at most."""

    listener: Listener
    access: AccessControl
    authenticator: Authenticator
    executor: GraphQLExecutor
    hub: EventHub
    subscriptions: Subscriptions


def wire(settings: Settings) -> Services:
    listener = Listener(settings.database_url)
    access = AccessControl(Catalog(schema._schema), listener)
    authenticator = Authenticator(settings, roles=access, listener=listener)
    executor = GraphQLExecutor(schema, settings, access)
    hub = EventHub(listener, buffer=settings.ws_buffer)
    subscriptions = Subscriptions(executor, authenticator, hub)
    return Services(listener, access, authenticator, executor, hub, subscriptions)


def wire_jobs(settings: Settings) -> tuple[Listener, AccessControl]:
    """What a worker process needs besides its jobs: a listener and access control (webhook
    bodies carry only what their owner may read; `AccessControl.readable`)."""
    listener = Listener(settings.database_url, name="rapport-worker")
    return listener, AccessControl(Catalog(schema._schema), listener)


def create_app(settings: Settings | None = None, *, manage_db: bool = True) -> GraphQLEndpoint:
    """The application; `manage_db=False` leaves the database pool to the caller (tests)."""
    settings = settings or _settings_or_exit()
    services = wire(settings)
    expected_migrations = {m.version for m in available()}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_db:
            await db.init_db(settings)
        await services.listener.start()
        await services.hub.start()
        await services.subscriptions.start()
        # What start-up built (schema, plans' builders, pools) lives as long as the process:
        # out of the collector's sight, full collections stop walking it on every request burst.
        gc.freeze()
        try:
            yield
        finally:
            # Sockets first: clients hear "service restart" (1012) and resume elsewhere.
            await services.subscriptions.stop()
            await services.hub.stop()
            await services.listener.stop()
            await services.authenticator.close()
            if manage_db:
                await db.close_db()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            applied = await db.applied_migrations()
        except Exception as exc:  # any database failure means "not ready", with the reason
            log.warning("readiness check failed: %s", exc)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        missing = sorted(expected_migrations - applied)
        if missing:
            return JSONResponse({"status": "unavailable", "pendingMigrations": missing}, status_code=503)
        return JSONResponse({"status": "ok"})

    rest = Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz)], lifespan=lifespan)
    return GraphQLEndpoint(services.executor, services.authenticator, fallback=rest, websocket=services.subscriptions)


def _settings_or_exit() -> Settings:
    """Settings from the environment, or one line on stderr and uvicorn's start-up failure code.

    With `--workers N`, uvicorn's supervisor stops on STARTUP_FAILURE instead of restarting a
    worker that would fail the same way forever.
    """
    try:
        return get_settings()
    except ConfigError as exc:
        print(f"rapport: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(STARTUP_FAILURE) from None


async def serve(settings: Settings, host: str, port: int, *, banner: str | None = None) -> None:
    """Serve the application until Ctrl-C (`backend.cli serve` and `run`).

    `banner` is printed once the port accepts connections, not before.
    """
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level="info",
        # Compression would keep a zlib context per socket (hundreds of KB): subscriptions send
        # small messages to many idle sockets.
        ws_per_message_deflate=False,
        ws=WebSocketProtocol,
    )
    await _Server(config, banner).serve()


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio connection, slimmer for thousands of idle subscription
    sockets: it lets go of the handshake once accepted (it would keep the request and the
    response, headers and all, ~2.5 KB, for the socket's life) and queues incoming messages
    in an `_Inbox`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            self.request = self.response = None  # type: ignore[assignment]

    def shutdown(self) -> None:
        # uvicorn closes open sockets before the application's shutdown runs, with a bare 1012:
        # say what to do, as the application would have.
        if self.close_sent or not self.handshake_complete or self.initial_response is not None:
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": SERVICE_RESTART})
        self.conn.send_close(SERVICE_RESTART, RESTART_REASON)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()


class _Inbox:
    """What uvicorn's connection uses of asyncio.Queue (`put_nowait`, `get`, `empty`; one
    consumer), holding nothing while empty: an asyncio.Queue allocates four deques (~2.5 KB)
    up front, for a socket that receives a message a minute."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[ASGIReceiveEvent] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> ASGIReceiveEvent:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, banner: str | None) -> None:
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.banner:
            print(self.banner, flush=True)
