"""Live event streams for one process: one reader per tenant, fanned out to every subscriber.

The process LISTENs once (the shared `Listener`, channel `service.CHANNEL`). A wake-up (sent
after a write commits, with the tenant id) wakes the reader of its tenant (if anyone here
subscribes to it), which reads the events after its cursor once, in pages, and offers each to
every subscriber of the tenant. Many wake-ups of a burst cost one read. Wake-ups can be lost
(the writer died right after its commit, the listener was reconnecting): after a reconnect
every reader reads again from its cursor, and every `HEADS_EVERY` seconds the tenants' event
heads are compared with the readers' cursors, so a lost wake-up delays events, never loses
them.

A subscriber has a bounded buffer: one that cannot keep up lags (see `Subscriber`) and
catches up from the database, instead of slowing the reader and every other subscriber down
or holding an unbounded backlog. (Cutting off a client whose socket does not drain is the
socket's business: schema/ws.py.)

`stream(tenant, after=n)` is gapless and duplicate-free, because seqs are gapless per tenant
and committed in order (backend/events/service.py): it replays the events after `n` that
already committed, then yields live ones, skipping what it has seen and reading back any
seq the live feed jumped over.

`tap(tenant, sink, after=n)` gives the same stream without a buffer or a task per consumer:
the reader hands each page to the sink at once (thousands of idle subscribers cost a small
record each, and a page costs one call per subscriber). A tap that is behind the reader's
cursor (starting with `after`, or its sink could not take a page) catches up from the
database in a task of its own and then joins the reader again; the reader never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import Protocol
from uuid import UUID

from backend import db
from backend.db import tenant_transaction
from backend.errors import AppError, BadInput, ErrorCode
from backend.events import service as events
from backend.events.service import Event
from backend.listener import Listener

log = logging.getLogger("rapport.events")

_RETRY = 0.5  # seconds before a reader retries after a database error
HEADS_EVERY = 2.0  # seconds between two checks for lost wake-ups


class EventsExpired(AppError):
    """`after` is older than what retention keeps: the client must reload its state."""

    code = ErrorCode.EVENTS_EXPIRED


class Subscriber:
    """One stream's bounded buffer, filled by its tenant's reader.

    When the buffer is full the subscriber lags: the buffer is dropped and only the last seq
    offered is remembered; the stream then reads what it missed from the database (so a burst
    costs a lagging consumer a query, and neither memory nor anyone else's time). A
    coalescing subscriber keeps only the latest event of `types` (it wants to know that
    something changed)."""

    __slots__ = ("_buffer", "_lag", "_limit", "_types", "_waiter")

    def __init__(self, limit: int, *, coalesce: Collection[str] | None = None) -> None:
        self._buffer: deque[Event] | None = None  # allocated on the first event: most subscribers idle
        self._limit = limit
        self._types = coalesce
        self._lag: int | None = None
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, event: Event) -> None:
        if self._types is not None and not events.matches(self._types, event.type):
            return
        if self._buffer is None:
            self._buffer = deque()
        if self._types is not None:
            self._buffer.clear()
            self._buffer.append(event)
        elif self._lag is not None or len(self._buffer) >= self._limit:
            self._buffer.clear()
            self._lag = event.seq
        else:
            self._buffer.append(event)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self) -> Event | int:
        """The next event, or (after an overflow) the last seq that was dropped."""
        while not self._buffer:
            if self._lag is not None:
                lag, self._lag = self._lag, None
                return lag
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        assert self._buffer is not None
        return self._buffer.popleft()


class Sink(Protocol):
    """Where a tap's events go. `deliver` runs in the reader: it must not wait."""

    def deliver(self, events: Sequence[Event], after: int) -> bool:
        """Pass on those of `events` (in seq order) with a seq above `after`; False, with
        nothing passed on, when the consumer cannot take them now."""
        ...

    async def drained(self) -> None:
        """Return once the consumer can take events again."""
        ...


class Tap:
    """A sink attached to its tenant's reader: live (handed every page at once) or catching
    up from the database (`task`) until it reaches the reader's cursor."""

    __slots__ = ("live", "position", "sink", "task", "tenant_id", "types")

    def __init__(self, tenant_id: UUID, sink: Sink, types: Collection[str] | None) -> None:
        self.tenant_id = tenant_id
        self.sink = sink
        self.types = types
        self.position = 0  # the last seq the sink has (or never needs)
        self.live = False
        self.task: asyncio.Task[None] | None = None


class _Feed:
    """A tenant's reader: its cursor (the last seq read) and who listens."""

    def __init__(self) -> None:
        self.cursor = 0
        self.subscribers: set[Subscriber] = set()
        self.taps: set[Tap] = set()
        self.wake = asyncio.Event()
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None


class EventHub:
    def __init__(self, listener: Listener, *, buffer: int) -> None:
        self._feeds: dict[UUID, _Feed] = {}
        self._buffer = buffer
        self._heads: asyncio.Task[None] | None = None
        listener.subscribe(events.CHANNEL, self._on_notification)
        listener.on_reset(self._on_reset)

    @property
    def tenants(self) -> int:
        """How many tenants have a reader in this process."""
        return len(self._feeds)

    async def stream(
        self,
        tenant_id: UUID,
        *,
        after: int | None = None,
        types: Collection[str] | None = None,
        on_live: Callable[[], object] | None = None,
    ) -> AsyncIterator[Event]:
        """The tenant's events after `after` (None: from now on), then live, in seq order.
        `on_live` is called once every event committed from then on is sure to be yielded.

        Raises EventsExpired when `after` is older than retention keeps, BadInput when it is
        beyond the latest event."""
        subscriber = Subscriber(self._buffer)
        try:
            await self._attach(tenant_id, subscriber)
            position, latest = await _start(tenant_id, after)
            if on_live is not None:
                on_live()
            async for event in _replay(tenant_id, position, latest + 1, types):
                yield event
            position = max(position, latest)
            while True:
                item = await subscriber.next()
                if isinstance(item, int):  # fell behind: what was dropped, from the database
                    async for missed in _replay(tenant_id, position, item + 1, types):
                        yield missed
                    position = max(position, item)
                    continue
                event = item
                if event.seq <= position:
                    continue  # replayed already
                async for missed in _replay(tenant_id, position, event.seq, types):
                    yield missed
                position = event.seq
                if events.matches(types, event.type):
                    yield event
        finally:
            self._detach(tenant_id, subscriber)

    async def changes(
        self, tenant_id: UUID, types: Collection[str], *, on_live: Callable[[], object] | None = None
    ) -> AsyncIterator[int]:
        """The seq of new events of `types`, coalesced: a consumer that is busy when several
        arrive gets the latest once (for state recomputed from scratch, like counters). The
        first value is where the live feed starts: state computed after it misses nothing."""
        subscriber = Subscriber(1, coalesce=types)
        try:
            await self._attach(tenant_id, subscriber)
            if on_live is not None:
                on_live()
            yield self._feeds[tenant_id].cursor
            while True:
                event = await subscriber.next()
                yield event if isinstance(event, int) else event.seq
        finally:
            self._detach(tenant_id, subscriber)

    async def tap(
        self, tenant_id: UUID, sink: Sink, *, after: int | None = None, types: Collection[str] | None = None
    ) -> Tap:
        """Hand the tenant's events of `types` after `after` (None: from now on) to `sink`, in
        seq order, without gap or duplicate, until `untap`. Returns once every event committed
        from then on is sure to reach the sink (a replay of older ones may still be under way).

        Raises like `stream`."""
        tap = Tap(tenant_id, sink, types)
        feed = await self._attach(tenant_id, tap)
        try:
            tap.position, _ = await _start(tenant_id, after)
        except BaseException:
            self._detach(tenant_id, tap)
            raise
        self._join(feed, tap)
        return tap

    def untap(self, tap: Tap) -> None:
        if tap.task is not None:
            tap.task.cancel()
        self._detach(tap.tenant_id, tap)

    def _join(self, feed: _Feed, tap: Tap) -> None:
        """Live when the tap has everything up to the reader's cursor, otherwise catch up first."""
        if tap.position >= feed.cursor:
            tap.live = True
        else:
            self._fall_behind(feed, tap)

    def _fall_behind(self, feed: _Feed, tap: Tap) -> None:
        tap.live = False
        tap.task = asyncio.create_task(self._catch_up(feed, tap), name=f"events-tap-{tap.tenant_id}")

    def _hand(self, feed: _Feed, tap: Tap, page: list[Event]) -> None:
        if not tap.live or page[-1].seq <= tap.position:
            return
        if tap.sink.deliver(page, tap.position):
            tap.position = page[-1].seq
        else:  # the sink backed up: it reads what it missed from the database once it drains
            self._fall_behind(feed, tap)

    async def _catch_up(self, feed: _Feed, tap: Tap) -> None:
        while not tap.live:
            await tap.sink.drained()
            # Every event up to the cursor has committed, so the read below sees all of them.
            target = feed.cursor
            try:
                async with tenant_transaction(tap.tenant_id, readonly=True) as tx:
                    page = await events.after(tx, tap.position, types=tap.types)
            except Exception as exc:  # the database is away: try again shortly
                log.warning("event tap of tenant %s cannot catch up: %s", tap.tenant_id, exc)
                await asyncio.sleep(_RETRY)
                continue
            if page and not tap.sink.deliver(page, tap.position):
                continue
            complete = len(page) < events.PAGE_MAX
            tap.position = max(tap.position, page[-1].seq if page else 0, target if complete else 0)
            # Nothing awaits between this check and going live: the reader hands out no page between.
            tap.live = tap.position >= feed.cursor
        tap.task = None

    async def _attach(self, tenant_id: UUID, consumer: Subscriber | Tap) -> _Feed:
        feed = self._feeds.get(tenant_id)
        if feed is None:
            feed = self._feeds[tenant_id] = _Feed()
            feed.task = asyncio.create_task(self._read(tenant_id, feed), name=f"events-{tenant_id}")
        if isinstance(consumer, Tap):
            feed.taps.add(consumer)
        else:
            feed.subscribers.add(consumer)
        # The reader's cursor is set before the caller reads where to start, so every event
        # after that start reaches this consumer through the feed.
        await asyncio.shield(feed.ready)
        return feed

    def _detach(self, tenant_id: UUID, consumer: Subscriber | Tap) -> None:
        feed = self._feeds.get(tenant_id)
        if feed is None:
            return
        if isinstance(consumer, Tap):
            feed.taps.discard(consumer)
        else:
            feed.subscribers.discard(consumer)
        if not feed.subscribers and not feed.taps:
            del self._feeds[tenant_id]
            if feed.task is not None:
                feed.task.cancel()

    async def _read(self, tenant_id: UUID, feed: _Feed) -> None:
        while not feed.ready.done():
            try:
                async with tenant_transaction(tenant_id, readonly=True) as tx:
                    _, feed.cursor = await events.bounds(tx)
                feed.ready.set_result(None)
            except Exception as exc:  # the database is away: subscribers wait, then start
                log.warning("event reader of tenant %s cannot start: %s", tenant_id, exc)
                await asyncio.sleep(_RETRY)
        while True:
            await feed.wake.wait()
            feed.wake.clear()
            try:
                while True:
                    async with tenant_transaction(tenant_id, readonly=True) as tx:
                        page = await events.after(tx, feed.cursor)
                    if page:
                        for subscriber in list(feed.subscribers):
                            for event in page:
                                subscriber.offer(event)
                        for tap in list(feed.taps):
                            self._hand(feed, tap, page)
                        feed.cursor = page[-1].seq
                    if len(page) < events.PAGE_MAX:
                        break
            except Exception as exc:  # read again from the cursor shortly: nothing is lost
                log.warning("event reader of tenant %s failed: %s", tenant_id, exc)
                await asyncio.sleep(_RETRY)
                feed.wake.set()

    def _on_notification(self, payload: str) -> None:
        feed = self._feeds.get(events.notification(payload))
        if feed is not None:
            feed.wake.set()

    async def start(self) -> None:
        self._heads = asyncio.create_task(self._check_heads(), name="events-heads")

    async def _check_heads(self) -> None:
        while True:
            await asyncio.sleep(HEADS_EVERY)
            if not self._feeds:
                continue
            try:
                heads = await db.event_heads()
            except Exception as exc:  # next round; the readers keep what they have
                log.warning("cannot read the event heads: %s", exc)
                continue
            for tenant_id, feed in self._feeds.items():
                if feed.ready.done() and heads.get(tenant_id, 0) > feed.cursor:
                    feed.wake.set()

    def _on_reset(self) -> None:
        for feed in self._feeds.values():
            feed.wake.set()

    async def stop(self) -> None:
        tasks = [self._heads] if self._heads is not None else []
        tasks += [feed.task for feed in self._feeds.values() if feed.task is not None]
        tasks += [tap.task for feed in self._feeds.values() for tap in feed.taps if tap.task is not None]
        self._heads, self._feeds = None, {}
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _start(tenant_id: UUID, after: int | None) -> tuple[int, int]:
    """(where a stream starts, the latest seq): `after`, or the latest event when None.

    Raises EventsExpired when `after` is older than retention keeps, BadInput when it is
    beyond the latest event."""
    async with tenant_transaction(tenant_id, readonly=True) as tx:
        oldest, latest = await events.bounds(tx)
    if after is not None and after < oldest:
        raise EventsExpired(
            f"events after {after} are no longer retained: the oldest resumable seq is {oldest}",
            oldest=oldest,
        )
    if after is not None and after > latest:
        raise BadInput(f"there is no event {after} yet: the latest is {latest}", field="after")
    # Everything up to `latest` has committed; the live feed started at or before it.
    return (latest if after is None else after), latest


async def _replay(tenant_id: UUID, position: int, before: int, types: Collection[str] | None) -> AsyncIterator[Event]:
    """The committed events with position < seq < before, in pages (no transaction is held
    while the caller consumes them)."""
    while position < before - 1:
        async with tenant_transaction(tenant_id, readonly=True) as tx:
            page = await events.after(tx, position, types=types)
        for event in page:
            if event.seq >= before:
                return
            yield event
        if len(page) < events.PAGE_MAX:
            return
        position = page[-1].seq
