"""Postgres LISTEN/NOTIFY for in-process caches: one dedicated connection per process.

Caches of things other processes can change (access policies, API keys, users) subscribe
here and drop entries when a notification names them. Notifications are only as reliable
as the connection, so:

* while the connection is down (or not up yet) `healthy` is False, and caches must treat
  their entries as fresh for at most `STALE_AFTER` seconds (`max_age`);
* after every (re)connect the `on_reset` callbacks run, because notifications may have been
  missed in between;
* a heartbeat query notices a silently dead connection within about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import asyncpg

from backend.db import connect_kwargs

log = logging.getLogger("rapport.listener")

# Access control changes (policies, API keys, users): payloads `policy:<tenant>`, `key:<id>`,
# `user:<tenant>:<id>`, sent by triggers (migrations 0010-0012).
ACCESS_CHANNEL = "rapport_access"
STALE_AFTER = 1.0
_HEARTBEAT = 0.5
_RETRY = (0.2, 0.5, 1.0, 2.0, 5.0)


class Listener:
    def __init__(self, dsn: str | None, *, name: str = "rapport-listener") -> None:
        self._dsn = dsn
        self._name = name
        self._handlers: dict[str, list[Callable[[str], None]]] = {}
        self._resets: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._last_ok = 0.0
        self._ready = asyncio.Event()

    def subscribe(self, channel: str, handler: Callable[[str], None]) -> None:
        """Call `handler(payload)` for every notification on `channel`.

        A channel no one listened to before is only heard from the next (re)connect on: use
        channels that are subscribed before `start` (the app subscribes all at construction)."""
        if self._task is not None and channel not in self._handlers:
            raise RuntimeError(f"channel {channel} must be subscribed before the listener starts")
        self._handlers.setdefault(channel, []).append(handler)

    def on_reset(self, callback: Callable[[], None]) -> None:
        self._resets.append(callback)

    @property
    def healthy(self) -> bool:
        return self._conn is not None and time.monotonic() - self._last_ok < 3 * _HEARTBEAT

    def max_age(self, ttl: float) -> float:
        """How long a cached entry may be trusted: its TTL, or STALE_AFTER while deaf."""
        return ttl if self.healthy else min(ttl, STALE_AFTER)

    async def start(self, *, wait: float = 5.0) -> None:
        """Start listening; waits (up to `wait` s) for the first connection, then runs on its own."""
        if self._dsn is None:
            raise RuntimeError("RAPPORT_DATABASE_URL is not set")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="rapport-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), wait)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._session()
                attempt = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: reconnect after a pause
                log.warning("notification listener lost its connection: %s", exc)
            finally:
                conn, self._conn = self._conn, None
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(_RETRY[min(attempt, len(_RETRY) - 1)])
            attempt += 1

    async def _session(self) -> None:
        assert self._dsn is not None
        conn = await asyncpg.connect(**connect_kwargs(self._dsn), server_settings={"application_name": self._name})
        self._conn = conn
        for channel in self._handlers:
            await conn.add_listener(channel, self._dispatch)
        # Anything cached before now may have missed a notification.
        for reset in self._resets:
            reset()
        self._last_ok = time.monotonic()
        self._ready.set()
        while True:
            await asyncio.sleep(_HEARTBEAT)
            await conn.fetchval("SELECT 1", timeout=2 * _HEARTBEAT)
            self._last_ok = time.monotonic()

    def _dispatch(self, connection: object, pid: int, channel: str, payload: str) -> None:
        for handler in self._handlers.get(channel, ()):
            try:
                handler(payload)
            except Exception:  # one broken handler must not starve the others
                log.exception("notification handler failed for %s %r", channel, payload)
