"""Subscriptions across processes and restarts: a SIGKILLed API loses no committed event (a
client resumes on another process with `after`), bursts beyond the buffer are caught up from
the database, slow sockets are cut off, shutdown tells clients to reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from backend.app import _Inbox
from backend.db import tenant_transaction
from backend.models import Tenant
from backend.settings import Settings
from tests import factories, processes
from tests.conftest import Api, free_port, serve
from tests.events.ws import Client, connected, subscription

SEQS = "subscription ($after: Seq) { events(after: $after) { seq type entityId } }"
CREATE = "mutation ($n: String!) { accountCreate(input: {name: $n}) { account { id } } }"


@asynccontextmanager
async def api_process(settings: Settings, log: Path) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """`python -m backend.cli serve` as its own process; its URL and process (stopped after)."""
    port = free_port()
    env = processes.environment(database_url=str(settings.database_url))
    server = await processes.start(sys.executable, "-m", "backend.cli", "serve", "--port", str(port), env=env, log=log)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            await processes.wait_until_listening(client, server, log)
        yield url, server
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


async def _collect(client: Client, into: list[dict[str, Any]], stop: asyncio.Event) -> None:
    with contextlib.suppress(Exception):  # the server dies under it
        while not stop.is_set():
            into.append((await client.next(wait=30))["events"])


async def test_a_killed_api_process_loses_no_committed_event(api: Api, tenant: Tenant, tmp_path: Path) -> None:
    token = api.token(tenant)
    headers = {"Authorization": f"Bearer {token}"}
    await api.data(tenant, CREATE, {"n": "before"})  # the user exists: every later event is an account
    committed: list[str] = []
    received: list[dict[str, Any]] = []
    enough = asyncio.Event()
    async with (
        api_process(api.settings, tmp_path / "first.log") as (url, server),
        subscription(url, token, SEQS, {"after": 0}) as watcher,
    ):
        stop = asyncio.Event()
        collector = asyncio.create_task(_collect(watcher, received, stop))

        async def mutate(worker: int) -> None:
            async with httpx.AsyncClient(base_url=url, timeout=10, headers=headers) as http:
                for i in range(10_000):
                    try:
                        response = await http.post(
                            "/graphql", json={"query": CREATE, "variables": {"n": f"w{worker}-{i}"}}
                        )
                    except httpx.HTTPError:
                        return  # the process is gone
                    committed.append(response.json()["data"]["accountCreate"]["account"]["id"])
                    if len(committed) >= 40:
                        enough.set()

        writers = [asyncio.create_task(mutate(w)) for w in range(4)]
        await enough.wait()
        server.send_signal(signal.SIGKILL)
        await server.wait()
        await asyncio.gather(*writers)
        stop.set()
        await collector
    assert received, "the watcher saw events before the kill"
    seen = received[-1]["seq"]
    async with api_process(api.settings, tmp_path / "second.log") as (url, _):
        # Read after the restart: a commit the dead process had sent has landed by now.
        async with tenant_transaction(tenant.id, readonly=True) as tx:
            latest: int = await tx.fetchval("SELECT max(seq) FROM events WHERE tenant_id = $1", tenant.id)
        async with subscription(url, token, SEQS, {"after": seen}) as client:
            rest = [(await client.next())["events"] for _ in range(latest - seen)]
            await client.quiet(0.3)
    everything = received + rest
    assert [e["seq"] for e in everything] == list(range(1, latest + 1))  # each once, in order
    created = {e["entityId"] for e in everything if e["type"] == "account.created"}
    assert set(committed) <= created  # every mutation that answered success is there


async def test_a_burst_beyond_the_buffer_is_caught_up_from_the_database(
    settings: Settings, app_db: None, tenant: Tenant
) -> None:
    async with (
        serve(settings.model_copy(update={"ws_buffer": 2})) as small,
        subscription(small.url, small.token(tenant), SEQS) as client,
    ):
        async with tenant_transaction(tenant.id) as tx:
            first = await tx.fetchval("SELECT coalesce(max(seq), 0) FROM events WHERE tenant_id = $1", tenant.id)
            for i in range(50):
                await factories.account(tx, name=f"Burst {i}")
        seqs = [(await client.next())["events"]["seq"] for _ in range(50)]
        assert seqs == list(range(first + 1, first + 51))
        await client.quiet(0.3)


@asynccontextmanager
async def _unread(settings: Settings, tenant: Tenant, document: str) -> AsyncIterator[Client]:
    """A subscription on a server that gives a socket 0.5 s to drain, over a connection with a
    small receive buffer (it fills quickly while the test does not read)."""
    async with serve(settings.model_copy(update={"ws_send_timeout_seconds": 0.5})) as strict:
        small = socket.create_connection(("127.0.0.1", int(strict.url.rsplit(":", 1)[1])))
        small.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        async with subscription(strict.url, strict.token(tenant), document, sock=small, max_queue=1) as client:
            yield client


async def test_a_socket_that_does_not_drain_is_closed_as_slow_consumer(
    settings: Settings, app_db: None, tenant: Tenant
) -> None:
    big = "subscription { events { seq node { ... on Account { customFields } } } }"
    async with _unread(settings, tenant, big) as client:
        async with tenant_transaction(tenant.id) as tx:
            for _i in range(40):
                await factories.account(tx, custom_fields={"notes": "x" * 200_000})
        await asyncio.sleep(2)  # not reading: the server's sends back up
        assert (await client.closed()) == (1013, "slow consumer: the socket does not drain")


async def test_a_backed_up_socket_of_a_shared_subscription_is_closed_as_slow_consumer(
    settings: Settings, app_db: None, tenant: Tenant
) -> None:
    """The same for a subscription whose frames are shared and written straight to the socket."""
    ids = " ".join(f"i{i}: entityId" for i in range(25))  # about 1.5 KB a message
    wide = f"subscription {{ events {{ seq {ids} }} }}"
    async with _unread(settings, tenant, wide) as client:
        async with tenant_transaction(tenant.id) as tx:  # ~9 MB of messages: more than socket buffers hold
            await tx.execute(
                "INSERT INTO accounts (tenant_id, id, name) "
                "SELECT $1, gen_random_uuid(), 'Burst ' || n FROM generate_series(1, 6000) n",
                tenant.id,
            )
        await asyncio.sleep(3)  # not reading: the server's writes back up
        assert (await client.closed()) == (1013, "slow consumer: the socket does not drain")


async def test_keep_alive_pings_only_sockets_that_got_nothing_else(
    settings: Settings, app_db: None, tenant: Tenant
) -> None:
    async with (
        serve(settings.model_copy(update={"ws_keepalive_seconds": 1.0})) as running,
        subscription(running.url, running.token(tenant), SEQS) as client,
    ):

        async def kinds(seconds: float, *, writing: bool) -> list[str]:
            seen: list[str] = []
            loop = asyncio.get_running_loop()
            end = loop.time() + seconds
            while loop.time() < end:
                if writing:
                    async with tenant_transaction(tenant.id) as tx:
                        await factories.account(tx)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.2):
                        while True:
                            seen.append(orjson.loads(await client.ws.recv())["type"])
            return seen

        busy = await kinds(3.5, writing=True)
        assert "next" in busy and "ping" not in busy, busy
        assert "ping" in await kinds(2.5, writing=False)


async def test_another_websocket_implementation_streams_through_asgi(
    settings: Settings, app_db: None, tenant: Tenant
) -> None:
    """Frames go straight to uvicorn's websockets-sansio connection; under any other server
    messages go through ASGI `send`."""
    async with (
        serve(settings, ws="websockets") as other,
        subscription(other.url, other.token(tenant), SEQS) as first,
        subscription(other.url, other.token(tenant), SEQS) as second,
    ):
        async with tenant_transaction(tenant.id) as tx:
            start = await tx.fetchval("SELECT coalesce(max(seq), 0) FROM events WHERE tenant_id = $1", tenant.id)
            for _ in range(3):
                await factories.account(tx)
        for client in (first, second):
            assert [(await client.next())["events"]["seq"] for _ in range(3)] == [start + 1, start + 2, start + 3]
            await client.quiet(0.3)


async def test_the_connections_inbox_hands_messages_over_in_order() -> None:
    """What uvicorn's connection queues for the application (backend/app.py `WebSocketProtocol`)."""
    inbox = _Inbox()
    assert inbox.empty()
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    first: Any = {"type": "websocket.receive", "text": "1"}
    second: Any = {"type": "websocket.disconnect", "code": 1000}
    inbox.put_nowait(first)
    inbox.put_nowait(second)
    assert await waiting is first
    assert not inbox.empty()
    assert await inbox.get() is second
    assert inbox.empty()


async def test_shutdown_tells_clients_to_reconnect(settings: Settings, app_db: None, tenant: Tenant) -> None:
    stack = AsyncExitStack()
    running = await stack.enter_async_context(serve(settings))
    async with subscription(running.url, running.token(tenant), SEQS) as client:
        stopping = asyncio.create_task(stack.aclose())
        closed = await client.closed()
        await stopping
    assert closed == (1012, "service restart: reconnect and resume with `after`")


async def test_a_client_that_never_initialises_is_closed(settings: Settings, app_db: None) -> None:
    async with (
        serve(settings.model_copy(update={"ws_init_timeout_seconds": 0.3})) as impatient,
        connected(impatient.url) as client,
    ):
        assert await client.closed() == (4408, "Connection initialisation timeout")
