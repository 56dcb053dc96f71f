"""Subscriptions at scale: idle memory per socket and commit-to-client latency on one API process.

    make bench-subscriptions                      # 10,000 sockets, 1,000 events/s, 20 s
    .venv/bin/python bench/subscriptions.py --sockets 2000 --rate 500 --duration 10

On a fresh database of its own (dropped afterwards): provisions `--tenants` tenants with
accounts, starts `python -m backend.cli serve` as a separate process, opens `--sockets`
graphql-transport-ws connections from `--clients` client processes (spread evenly over the
tenants, each subscribed to `events(types: ["account.updated"]) { seq at }`), then measures

* memory per idle socket: the server's RSS once every socket is subscribed and idle, minus its
  RSS with one warm socket, divided by the number of sockets;
* latency: for `--duration` s, updates `--rate` accounts per second (batches of `--batch` per
  tenant transaction, as the application role), and every client records receive time minus
  the event's `at` (the commit, from `clock_timestamp()` in the commit trigger; one clock,
  one machine). Prints p50/p90/p99/max and how many of the expected deliveries arrived.

Each event reaches the subscribers of its tenant (sockets / tenants of them): deliveries per
second are rate x sockets / tenants, which is what the server's CPU pays for.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import orjson
import uvloop
from websockets.asyncio.client import connect

from backend import db
from backend.auth import issue_token
from backend.bootstrap import bootstrap, drop_database
from backend.db import tenant_transaction
from backend.migrations import migrate
from backend.settings import load_settings
from tenants.provisioning import provision_tenant

ROOT = Path(__file__).resolve().parent.parent
SUPERUSER_URL = os.environ.get("RAPPORT_BENCH_SUPERUSER_URL", "postgresql://root@127.0.0.1:5432/postgres")
QUERY = 'subscription { events(types: ["account.updated"]) { seq at } }'
ACCOUNTS_PER_TENANT = 20


def _url(role: str, database: str) -> str:
    return f"postgresql://{role}@127.0.0.1:5432/{database}"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# -- client processes ------------------------------------------------------------------------


async def _client(url: str, tokens: list[str], ready: Any, go: Any, stop: Any, results: Any, index: int) -> None:
    latencies: list[float] = []
    received = 0
    measuring = False
    gate = asyncio.Semaphore(100)

    async def one(token: str) -> None:
        nonlocal received
        async with gate:
            # No client pings (browsers send none): the server's keep-alive is what is measured.
            ws = await connect(
                url,
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                compression=None,
                open_timeout=60,
                ping_interval=None,
            )
            await ws.send(orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
            ack = orjson.loads(await ws.recv())
            assert ack["type"] == "connection_ack", ack
            await ws.send(orjson.dumps({"type": "subscribe", "id": "1", "payload": {"query": QUERY}}))
            await ws.send(orjson.dumps({"type": "ping"}))  # answered once the subscription is live
            while orjson.loads(await ws.recv())["type"] != "pong":
                pass
        opened.append(ws)
        async for raw in ws:
            now = time.time()
            message = orjson.loads(raw)
            if message["type"] == "ping":
                await ws.send(b'{"type":"pong"}')
            elif message["type"] == "next" and measuring:
                at = datetime.fromisoformat(message["payload"]["data"]["events"]["at"]).timestamp()
                latencies.append(now - at)
                received += 1

    opened: list[Any] = []
    tasks = [asyncio.create_task(one(t)) for t in tokens]
    while len(opened) < len(tokens):
        failed = [t for t in tasks if t.done() and t.exception()]
        if failed:
            raise RuntimeError(f"client {index}: {failed[0].exception()!r}")
        await asyncio.sleep(0.2)
    # The connections live until the end: a full collection walking them would stall this
    # client and show up as latency.
    gc.collect()
    gc.freeze()
    ready.put(index)
    await asyncio.to_thread(go.wait)  # the driver starts the load
    measuring = True
    await asyncio.to_thread(stop.wait)
    results.put((index, received, latencies))
    for ws in opened:
        with contextlib.suppress(Exception):
            await ws.close()
    for task in tasks:
        task.cancel()


def _client_main(url: str, tokens: list[str], ready: Any, go: Any, stop: Any, results: Any, index: int) -> None:
    _raise_file_limit()
    uvloop.run(_client(url, tokens, ready, go, stop, results, index))


# -- driver ------------------------------------------------------------------------------------


def _raise_file_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _provision(settings: Any, tenants: int) -> list[tuple[uuid.UUID, list[uuid.UUID]]]:
    found = []
    for i in range(tenants):
        tenant = await provision_tenant(f"Bench {i}")
        async with tenant_transaction(tenant.id) as tx:
            ids = await tx.fetch(
                "INSERT INTO accounts (tenant_id, id, name) SELECT $1, gen_random_uuid(), 'Account ' || n "
                "FROM generate_series(1, $2) n RETURNING id",
                tenant.id,
                ACCOUNTS_PER_TENANT,
            )
        found.append((tenant.id, [r["id"] for r in ids]))
    return found


async def _drive(tenants: list[tuple[uuid.UUID, list[uuid.UUID]]], rate: int, batch: int, duration: float) -> int:
    """Update `rate` accounts per second for `duration` s; returns how many events committed."""
    tick = 0.1
    per_tick = max(1, round(rate * tick))
    committed = 0
    counter = 0
    start = time.monotonic()

    async def write(tenant_id: uuid.UUID, accounts: list[uuid.UUID], n: int, value: str) -> None:
        async with tenant_transaction(tenant_id) as tx:
            await tx.execute(
                "UPDATE accounts SET industry = $2 WHERE tenant_id = $1 AND id = ANY($3)",
                tenant_id,
                value,
                random.sample(accounts, n),
            )

    while time.monotonic() - start < duration:
        due = start + (committed // per_tick + 1) * tick
        counter += 1
        writes, left = [], per_tick
        chosen = random.sample(tenants, min(len(tenants), -(-per_tick // batch)))
        while left > 0:
            n = min(batch, left, ACCOUNTS_PER_TENANT)
            tenant_id, accounts = chosen.pop()
            writes.append(write(tenant_id, accounts, n, f"v{counter}"))
            left -= n
        await asyncio.gather(*writes)
        committed += per_tick
        await asyncio.sleep(max(0.0, due - time.monotonic()))
    return committed


async def run(args: argparse.Namespace) -> None:
    name = f"rapport_bench_subs_{os.getpid()}"
    await bootstrap(SUPERUSER_URL, name)
    server = None
    try:
        await migrate(_url("rapport_owner", name))
        settings = load_settings(database_url=_url("rapport_app", name), owner_database_url=_url("rapport_owner", name))
        await db.init_db(settings)
        began = time.monotonic()
        tenants = await _provision(settings, args.tenants)
        print(
            f"provisioned {args.tenants} tenants x {ACCOUNTS_PER_TENANT} accounts in {time.monotonic() - began:.1f} s"
        )
        tokens = [
            issue_token(settings, tenant_id=tenants[i % len(tenants)][0], subject="bench", roles=["admin"],
                        email="bench@example.com")
            for i in range(args.sockets)
        ]  # fmt: skip

        port = args.port
        log = Path(args.log)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
        env.update({"RAPPORT_DATABASE_URL": settings.database_url or "", "RAPPORT_DB_POOL_MAX": "20"})
        out = await asyncio.to_thread(log.open, "w")
        with out:
            server = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "backend.cli", "serve", "--port", str(port), cwd=ROOT, env=env,
                stdout=out, stderr=out,
            )  # fmt: skip
        http_url, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/graphql"
        async with httpx.AsyncClient(base_url=http_url) as client:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)

        # Warm up every code path with one socket, then the baseline.
        ctx = mp.get_context("spawn")
        ready, results, go, stop = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Event()
        warm = ctx.Process(target=_client_main, args=(ws_url, tokens[:1], ready, go, stop, results, -1))
        warm.start()
        await asyncio.to_thread(ready.get)
        await asyncio.sleep(2)
        baseline = _rss_kb(server.pid)

        # One socket per tenant first (per-tenant state: policy snapshot, event reader), then the
        # rest: their RSS delta is what one more idle socket costs.
        clients = []
        rss = [baseline]
        for group in (tokens[: args.tenants], tokens[args.tenants :]):
            began = time.monotonic()
            started = [
                ctx.Process(target=_client_main, args=(ws_url, group[i :: args.clients], ready, go, stop, results, i))
                for i in range(args.clients)
            ]
            for process in started:
                process.start()
            for _ in started:
                await asyncio.to_thread(ready.get, True, 600)
            clients += started
            print(f"{len(group)} sockets subscribed in {time.monotonic() - began:.1f} s")
            await asyncio.sleep(5)  # idle
            rss.append(_rss_kb(server.pid))
        first, rest = args.tenants, args.sockets - args.tenants
        print(f"server RSS: {rss[0] / 1024:.0f} MB with 1 socket, {rss[1] / 1024:.0f} MB with one per tenant "
              f"({first}), {rss[2] / 1024:.0f} MB with all {args.sockets + 1}")  # fmt: skip
        print(f"memory per idle socket: {(rss[2] - rss[1]) * 1024 / max(rest, 1) / 1024:.1f} KB for each socket beyond "
              f"the first of its tenant (target <= 20 KB); {(rss[2] - rss[0]) * 1024 / args.sockets / 1024:.1f} KB "
              f"averaged over all, per-tenant state included")  # fmt: skip

        go.set()
        await asyncio.sleep(1)
        cpu = _cpu_seconds(server.pid)
        committed = await _drive(tenants, args.rate, args.batch, args.duration)
        cpu = _cpu_seconds(server.pid) - cpu
        await asyncio.sleep(3)  # let the last deliveries arrive
        stop.set()
        latencies: list[float] = []
        received = 0
        for _ in range(len(clients) + 1):
            index, count, values = await asyncio.to_thread(results.get, True, 120)
            if index >= 0:  # not the warm-up socket
                received += count
                latencies.extend(values)
        expected = committed * args.sockets // args.tenants
        share = 100 * received / max(expected, 1)
        print(f"events: {committed} in {args.duration:.0f} s ({committed / args.duration:.0f}/s), "
              f"deliveries expected {expected}, received {received} ({share:.1f} %)")  # fmt: skip
        per_delivery = cpu / max(received, 1) * 1e6
        print(f"server CPU while driving: {cpu:.1f} s in {args.duration:.0f} s ({100 * cpu / args.duration:.0f} % of "
              f"one core), about {per_delivery:.0f} us per delivery")  # fmt: skip
        if latencies:
            latencies.sort()
            q = statistics.quantiles(latencies, n=100)
            print(f"commit-to-client latency: p50 {q[49] * 1000:.1f} ms, p90 {q[89] * 1000:.1f} ms, "
                  f"p99 {q[98] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms (target p99 <= 100 ms)")  # fmt: skip
        for process in [warm, *clients]:
            process.join(30)
    finally:
        if server is not None and server.returncode is None:
            server.terminate()
            await server.wait()
        await db.close_db()
        await drop_database(SUPERUSER_URL, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--batch", type=int, default=10, help="events per tenant transaction")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log", default=str(Path(tempfile.gettempdir()) / "rapport-bench-subscriptions.log"))
    args = parser.parse_args()
    _raise_file_limit()
    uvloop.run(run(args))


if __name__ == "__main__":
    main()
