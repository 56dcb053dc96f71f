"""GraphQL over WebSocket at /graphql: `graphql-transport-ws` and the legacy `graphql-ws`.

The subprotocol is negotiated (graphql-transport-ws preferred). The first message must be
`connection_init` whose payload carries `Authorization` ("Bearer <JWT or API key>"), checked
like an HTTP request's header. Each `subscribe` (legacy: `start`) runs through the
executor's `subscribe`: the same limits and field policy as a query, refused (an `error`
message, FORBIDDEN with the denied paths) before anything starts. Queries and mutations
stay on HTTP.

Messages are framed here and written straight to uvicorn's connection (websockets-sansio),
so an event fanned out to thousands of sockets costs one write each, with no task or queue
per subscriber; under another server they go through ASGI `send` (and every subscription
runs on its own stream).

Credentials are checked again while the socket lives: when the token or key expires, and
whenever the authenticator drops cached credentials (an API key revoked or a user changed,
heard through NOTIFY), every socket re-authenticates; one that no longer may is closed.

Close codes (both protocols; the legacy one also sends `connection_error` first when the
credentials are refused at init):

    4400 invalid message              4401 subscribe before ack, or credentials expired
    4403 credentials refused/revoked  4406 no supported subprotocol (handshake refused)
    4408 no connection_init in time   4409 duplicate operation id
    4429 second connection_init       1013 slow consumer (a message not taken within
                                           RAPPORT_WS_SEND_TIMEOUT_SECONDS)
    1012 service restart (shutdown: reconnect, resume with `after`)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import aclosing
from typing import Any, Protocol

import orjson
from graphql import ExecutionResult
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from backend.auth import Authenticator, Principal
from backend.errors import AppError, RateLimited, Unauthenticated
from backend.events.hub import EventHub, Tap
from backend.events.service import Event as StoredEvent
from schema.context import Live
from schema.errors import log
from schema.events.broadcast import Channel, frame, payload
from schema.executor import GraphQLExecutor, OperationRequest
from schema.http import Receive, Scope, Send

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"

INVALID_MESSAGE = 4400
UNAUTHORIZED = 4401
FORBIDDEN = 4403
INIT_TIMEOUT = 4408
DUPLICATE_ID = 4409
TOO_MANY_INITS = 4429
SLOW_CONSUMER = 1013
SERVICE_RESTART = 1012
RESTART_REASON = "service restart: reconnect and resume with `after`"

_SWEEP_SECONDS = 1.0
_FREEZE_GROWTH = 100  # new sockets since the last freeze that make another worth it
_STOP_SECONDS = 5.0
_wslog = logging.getLogger("rapport.ws")


class _Gone(Exception):
    """The client disconnected."""


class _Running(Protocol):
    def cancel(self) -> object: ...


class _Socket:
    """One accepted WebSocket: its principal and running operations."""

    # Thousands of these idle in a process: no per-instance dict.
    __slots__ = (
        "_send",
        "active",
        "authorization",
        "closed",
        "generation",
        "operations",
        "policies",
        "principal",
        "protocol",
        "server",
        "source",
        "wire",
    )

    def __init__(self, server: Subscriptions, send: Send, protocol: str, source: str | None) -> None:
        self.server = server
        self.protocol = protocol
        self.source = source
        self._send = send
        # uvicorn's connection, when `send` is its own: messages are then written to it directly.
        wire = getattr(send, "__self__", None)
        self.wire = wire if isinstance(wire, WebSocketsSansIOProtocol) else None
        self.principal: Principal | None = None
        self.authorization: str | None = None
        self.generation = 0
        self.policies = 0  # the access policies' generation the operations were last checked at
        # Each running operation with its request and the access key it started with.
        self.operations: dict[str, tuple[_Running, OperationRequest, tuple[Any, ...]]] = {}
        self.closed = False
        self.active = False  # sent something since the last keep-alive round

    @property
    def legacy(self) -> bool:
        return self.protocol == LEGACY_WS

    async def send(self, message: dict[str, Any]) -> None:
        """Send, or close the socket (1013) when the client does not take it within the send
        timeout: its backlog then stays in the database, not in this process."""
        if self.closed:
            return
        if self.wire is not None:
            await self.drained()
            self.write(frame(orjson.dumps(message)))
            return
        try:
            async with asyncio.timeout(self.server.send_timeout):
                await self._send({"type": "websocket.send", "text": orjson.dumps(message).decode()})
            self.active = True
        except TimeoutError:
            self._slow()
        except (OSError, RuntimeError):  # the client went away meanwhile
            self._cancel_operations()
            self.closed = True

    def post(self, message: dict[str, Any]) -> None:
        """Send without waiting; dropped when the socket is backed up (for keep-alives: a socket
        that does not drain is closed anyway)."""
        if self.wire is not None:
            self.write(frame(orjson.dumps(message)))
        else:
            self.server.spawn(self.send(message))

    def write(self, frames: bytes) -> bool:
        """Write framed messages now; False, writing nothing, while the client does not take
        what was written before (see `drained`). Only with a `wire`."""
        wire = self.wire
        assert wire is not None
        if self.closed or wire.close_sent or wire.disconnected:
            return True  # nothing goes out any more: the operations end with the socket
        if not wire.writable.is_set():
            return False
        wire.transport.write(frames)
        self.active = True
        return True

    async def drained(self) -> None:
        """Return once the client takes messages again (at once, usually); close the socket
        (1013) when it does not within the send timeout. Only with a `wire`."""
        assert self.wire is not None
        if self.wire.writable.is_set():
            return
        try:
            async with asyncio.timeout(self.server.send_timeout):
                await self.wire.writable.wait()
        except TimeoutError:
            self._slow()

    def _slow(self) -> None:
        self.server.spawn(self.close(SLOW_CONSUMER, "slow consumer: the socket does not drain"))
        raise asyncio.CancelledError()

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._cancel_operations()
        with contextlib.suppress(OSError, RuntimeError):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    def _cancel_operations(self) -> None:
        current = asyncio.current_task()
        for running, _, _ in self.operations.values():
            if running is not current:
                running.cancel()

    # -- the conversation ------------------------------------------------------------------

    async def run(self, receive: Receive) -> None:
        try:
            try:
                init = await asyncio.wait_for(self._message(receive), self.server.init_timeout)
            except TimeoutError:
                await self.close(INIT_TIMEOUT, "Connection initialisation timeout")
                return
            if init.get("type") != "connection_init":
                await self.close(UNAUTHORIZED, "Unauthorized")
                return
            authenticated = await self._authenticate(init.get("payload"))
            del init  # the credentials stay only in `authorization`, for re-checks
            if not authenticated:
                return
            await self.send({"type": "connection_ack"})
            if self.legacy:
                await self.send({"type": "ka"})
            while not self.closed:
                await self._dispatch(await self._message(receive))
        except _Gone:
            pass
        finally:
            self.closed = True
            self._cancel_operations()

    async def _message(self, receive: Receive) -> dict[str, Any]:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                raise _Gone()
            if message["type"] != "websocket.receive":
                continue
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict) and isinstance(parsed.get("type"), str):
                return parsed
            await self.close(INVALID_MESSAGE, "Invalid message received")
            raise _Gone()

    async def _authenticate(self, payload: object) -> bool:
        authorization = _authorization(payload)
        try:
            self.principal = await self.server.authenticator.authenticate(authorization, source=self.source)
        except (Unauthenticated, RateLimited) as exc:
            if self.legacy:
                await self.send({"type": "connection_error", "payload": {"message": exc.message, **_ext(exc)}})
            await self.close(FORBIDDEN, "Forbidden: " + exc.message)
            return False
        self.authorization = authorization
        self.generation = self.server.authenticator.generation
        self.policies = self.server.executor.access.generation
        return True

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "connection_init":
            await self.close(TOO_MANY_INITS, "Too many initialisation requests")
        elif kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind in ("subscribe", "start"):
            await self._start(message)
        elif kind in ("complete", "stop"):
            running = self.operations.pop(str(message.get("id")), None)
            if running is not None:
                running[0].cancel()
                if self.legacy:
                    await self.send({"type": "complete", "id": message.get("id")})
        elif kind == "connection_terminate" and self.legacy:
            await self.close(1000, "Normal closure")
        else:
            await self.close(INVALID_MESSAGE, f"Invalid message type {kind!r}")

    async def _start(self, message: dict[str, Any]) -> None:
        op_id = message.get("id")
        if not isinstance(op_id, str) or not op_id:
            await self.close(INVALID_MESSAGE, "Invalid message: an operation needs an id")
            return
        if op_id in self.operations:
            if self.legacy:
                await self._error(op_id, [{"message": f"operation {op_id} is already running"}])
            else:
                await self.close(DUPLICATE_ID, f"Subscriber for {op_id} already exists")
            return
        try:
            request = OperationRequest.from_payload(message.get("payload"))
        except AppError as exc:
            await self._error(op_id, [{"message": exc.message, "extensions": exc.as_extensions()}])
            return
        assert self.principal is not None
        request_id = uuid.uuid4().hex
        started = asyncio.Event()
        live = Live(self.server.hub, started.set)
        try:
            # Taken before subscribing: a policy change in between ends it (ACCESS_CHANGED), never
            # leaves it running on access it no longer has.
            access_key = await self.server.executor.access_key(self.principal)
            found = await self.server.executor.subscribe(
                self.principal, request, request_id=request_id, live=live, shared=self.wire is not None
            )
            if isinstance(found, Channel):
                tapped = _Tapped(self, op_id, found)
                await tapped.start()
                self.operations[op_id] = (tapped, request, access_key)
                if self.closed:  # meanwhile
                    tapped.cancel()
                return
        except Exception as exc:
            await self._failed(op_id, exc, request_id)
            return
        if isinstance(found, list):
            await self._error(op_id, found)
            return
        task = asyncio.create_task(self._operation(op_id, found, request_id), name=f"ws-op-{op_id}")
        self.operations[op_id] = (task, request, access_key)
        # The next message is handled once the operation gets live events (or ended): see Live.
        waiting = asyncio.ensure_future(started.wait())
        await asyncio.wait((task, waiting), return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()

    async def recheck_operations(self) -> None:
        """End, with their errors, the operations the current policy refuses."""
        assert self.principal is not None
        for op_id, (running, request, access_key) in list(self.operations.items()):
            errors = await self.server.executor.still_admits(self.principal, request, access_key)
            if errors is not None and self.operations.get(op_id, (None,))[0] is running:
                del self.operations[op_id]
                running.cancel()
                self.server.spawn(self._error(op_id, errors))

    async def _error(self, op_id: str, errors: list[dict[str, Any]]) -> None:
        # graphql-transport-ws sends the list; the legacy protocol one error object.
        await self.send({"type": "error", "id": op_id, "payload": errors[0] if self.legacy else errors})

    async def _failed(self, op_id: str, exc: Exception, request_id: str) -> None:
        if isinstance(exc, AppError):
            await self._error(op_id, [{"message": exc.message, "extensions": exc.as_extensions()}])
            return
        # A bug: report it without internals, keep the socket.
        log.error("subscription failed (request %s)", request_id, exc_info=exc)
        internal = {"message": "internal error", "extensions": {"code": "INTERNAL", "requestId": request_id}}
        await self._error(op_id, [internal])

    async def _operation(self, op_id: str, stream: AsyncIterator[ExecutionResult], request_id: str) -> None:
        completed = True
        try:
            next_type = "data" if self.legacy else "next"
            async with aclosing(stream) as results:  # type: ignore[type-var]  # an async generator
                async for result in results:
                    await self.send({"id": op_id, "type": next_type, "payload": payload(result, request_id)})
        except asyncio.CancelledError:
            completed = False
            raise
        except Exception as exc:
            await self._failed(op_id, exc, request_id)
            completed = False
        finally:
            self.operations.pop(op_id, None)
        if completed:
            await self.send({"id": op_id, "type": "complete"})


class _Tapped:
    """A subscription served through its channel: the hub hands it its tenant's events, and
    their frames, shared with the channel's other subscribers, are written at once."""

    __slots__ = ("channel", "prefix", "socket", "tap")

    def __init__(self, socket: _Socket, op_id: str, channel: Channel) -> None:
        self.socket = socket
        self.channel = channel
        kind = b"data" if socket.legacy else b"next"
        self.prefix = b'{"id":' + orjson.dumps(op_id) + b',"type":"' + kind + b'","payload":'
        self.tap: Tap | None = None

    async def start(self) -> None:
        assert self.socket.principal is not None
        channel = self.channel
        hub = self.socket.server.hub
        self.tap = await hub.tap(self.socket.principal.tenant_id, self, after=channel.after, types=channel.types)

    def deliver(self, events: Sequence[StoredEvent], after: int) -> bool:
        messages = self.channel.messages(events, after, self.prefix)
        return not messages or self.socket.write(messages)

    async def drained(self) -> None:
        await self.socket.drained()

    def cancel(self) -> None:
        if self.tap is not None:
            self.socket.server.hub.untap(self.tap)


class Subscriptions:
    """The WebSocket endpoint and the sockets of this process (expiry, revocation, keep-alive,
    shutdown)."""

    def __init__(self, executor: GraphQLExecutor, authenticator: Authenticator, hub: EventHub) -> None:
        settings = executor.settings
        self.executor = executor
        self.authenticator = authenticator
        self.hub = hub
        self.send_timeout = settings.ws_send_timeout_seconds
        self.init_timeout = settings.ws_init_timeout_seconds
        self.keepalive = settings.ws_keepalive_seconds
        self._sockets: set[_Socket] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def sockets(self) -> int:
        return len(self._sockets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        offered = scope.get("subprotocols") or []
        protocol = next((p for p in (TRANSPORT_WS, LEGACY_WS) if p in offered), None)
        if protocol is None:
            await send({"type": "websocket.close", "code": 4406, "reason": "Subprotocol not acceptable"})
            return
        await send({"type": "websocket.accept", "subprotocol": protocol})
        client = scope.get("client")
        socket = _Socket(self, send, protocol, client[0] if client else None)
        self._sockets.add(socket)
        try:
            await socket.run(receive)
        finally:
            self._sockets.discard(socket)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` on its own: a socket that does not drain must not hold up the caller."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep(), name="ws-sweeper")

    async def stop(self) -> None:
        """Tell every client to reconnect elsewhere (1012), then stop."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for socket in list(self._sockets):
            self.spawn(socket.close(SERVICE_RESTART, RESTART_REASON))
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=_STOP_SECONDS)

    async def _sweep(self) -> None:
        tick = 0
        frozen_at = 0
        while True:
            await asyncio.sleep(_SWEEP_SECONDS)
            try:
                await self._check_credentials()
                frozen_at = self._freeze(frozen_at)
                # Each sweep pings its share of the sockets: all at once would stall the others. A
                # socket that got messages since its last round needs no keep-alive.
                rounds = max(1, round(self.keepalive / _SWEEP_SECONDS))
                tick += 1
                for socket in list(self._sockets):
                    if socket.principal is None or socket.closed or hash(socket) % rounds != tick % rounds:
                        continue
                    if socket.active:
                        socket.active = False
                    else:
                        socket.post({"type": "ka" if socket.legacy else "ping"})
            except Exception:  # the sweeper must survive anything one socket does
                _wslog.exception("socket sweep failed")

    def _freeze(self, frozen_at: int) -> int:
        """Move what settled sockets hold out of the collector's full collections (as start-up
        does, backend/app.py): with thousands of idle sockets a full collection walks millions
        of their objects and stalls every socket for seconds. Done when the number of sockets
        grew noticeably since the last time; returns the count it froze at."""
        count = len(self._sockets)
        if count - frozen_at < _FREEZE_GROWTH:
            return min(frozen_at, count)
        gc.freeze()
        return count

    async def _check_credentials(self) -> None:
        """Close sockets whose credentials expired or were revoked; end the operations that a
        changed access policy no longer admits (a field the principal may no longer read must
        not keep arriving)."""
        now = time.time()
        generation = self.authenticator.generation
        policies = self.executor.access.generation
        for socket in list(self._sockets):
            principal = socket.principal
            if principal is None or socket.closed:
                continue
            if principal.expires_at is not None and principal.expires_at <= now:
                self.spawn(socket.close(UNAUTHORIZED, "credentials expired"))
            elif socket.generation != generation or socket.policies != policies:
                socket.generation, socket.policies = generation, policies
                try:  # again: roles come from the policy too
                    socket.principal = await self.authenticator.authenticate(socket.authorization)
                except (Unauthenticated, RateLimited):
                    self.spawn(socket.close(FORBIDDEN, "credentials revoked"))
                    continue
                await socket.recheck_operations()


def _authorization(payload: object) -> str | None:
    """The Authorization value of a connection_init payload (also under `headers`)."""
    if not isinstance(payload, dict):
        return None
    headers = payload.get("headers")
    for source in (payload, headers if isinstance(headers, dict) else {}):
        for key in ("Authorization", "authorization"):
            value = source.get(key)
            if isinstance(value, str):
                return value
    return None


def _ext(exc: AppError) -> dict[str, Any]:
    return {"extensions": exc.as_extensions()}
