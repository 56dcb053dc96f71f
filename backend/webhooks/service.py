"""Webhooks: endpoints tenants register, fan-out of outbox events into deliveries, and what a
delivery attempt does to a delivery and its endpoint.

The database is the record of what is owed to whom: the dispatcher (jobs/dispatcher.py)
turns events after an endpoint's `cursor` into delivery rows and moves the cursor in one
transaction; Dramatiq messages only say "try delivery X now". Deliveries are at least once
and unordered: a receiver dedupes by the body's `id` (the delivery) or `seq` (the event;
replays re-send a seq under a new delivery id) and orders by `seq`.

The API cannot enqueue (schema/ does not import jobs/): pings, replays and resumes write
delivery rows that need a message; their commit wakes the tenant's consumers, the dispatcher
among them, which queues them.

Bodies are signed: `Rapport-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
(README: "Webhooks" has a verification snippet).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import random
import re
import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import orjson
from uuid_utils.compat import uuid7

from backend import crypto
from backend.context import ActorKind, TenantContext
from backend.crypto import Keyring
from backend.errors import BadInput, NotFound
from backend.events import service as events
from backend.ids import global_id
from backend.models import (
    DeliveryKind,
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from backend.settings import Settings

SECRET_PREFIX = "whsec_"  # noqa: S105  (a public marker, not a secret)
MAX_TYPES = 50
MAX_FILTER_IDS = 100
MAX_REPLAY = 10_000
PING = "webhook.ping"
DISABLED = "webhook.disabled"
ENTITY = "Webhook"  # the GraphQL type of endpoints (events about them name it)
_TYPE = re.compile(r"^(\*|[a-z_]+\.(\*|[a-z_]+))$")
_ACTOR_TYPES = {ActorKind.USER: "User", ActorKind.API_KEY: "ApiKey"}

# Which of an event's data keys (GraphQL input names) a subject may read: the owner's field
# policy, evaluated when a delivery is sent (policies/access.py implements it).
Readable = Callable[[UUID, str, str, Collection[str]], Awaitable[frozenset[str]]]


# -- endpoints -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndpointFilter:
    """Narrows an endpoint's events: all given conditions must hold.

    `entities`: only events about these records ((GraphQL type, id) pairs). `changed`: only
    events that changed at least one of these fields (GraphQL names), so only updates match."""

    entities: frozenset[tuple[str, UUID]] = frozenset()
    changed: frozenset[str] = frozenset()

    def matches(self, event: events.Event) -> bool:
        if self.entities and (event.entity, event.entity_id) not in self.entities:
            return False
        return not self.changed or not self.changed.isdisjoint(event.changed)

    def as_json(self) -> dict[str, list[Any]] | None:
        if not self.entities and not self.changed:
            return None
        return {"entities": sorted([t, str(i)] for t, i in self.entities), "changed": sorted(self.changed)}

    @classmethod
    def of(cls, stored: Any) -> EndpointFilter:
        """From its stored form (`as_json`)."""
        stored = stored or {}
        entities = frozenset((t, UUID(i)) for t, i in stored.get("entities", ()))
        return cls(entities, frozenset(stored.get("changed", ())))


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _check_url(url: str) -> str:
    url = url.strip()
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise BadInput("not a valid URL", field="url") from None
    if parsed.scheme not in ("http", "https") or not parsed.host or len(url) > 2000:
        raise BadInput("an http:// or https:// URL of at most 2000 characters", field="url")
    return url


def _check_types(types: list[str]) -> list[str]:
    unique = sorted(set(types))
    if not 1 <= len(unique) <= MAX_TYPES:
        raise BadInput(f"1 to {MAX_TYPES} event types", field="eventTypes")
    for t in unique:
        if not _TYPE.match(t):
            raise BadInput(f"'{t}' is not an event type: `ticket.updated`, `ticket.*` or `*`", field="eventTypes")
    return unique


def _check_secret(secret: str) -> str:
    if not 24 <= len(secret) <= 200:
        raise BadInput("a secret has 24 to 200 characters", field="secret")
    return secret


def _check_filter(given: EndpointFilter | None) -> dict[str, list[Any]] | None:
    if given is None:
        return None
    if len(given.entities) > MAX_FILTER_IDS or len(given.changed) > MAX_TYPES:
        raise BadInput(f"at most {MAX_FILTER_IDS} ids and {MAX_TYPES} fields", field="filter")
    return given.as_json()


async def create(
    tx: TenantContext,
    keys: Keyring,
    *,
    url: str,
    event_types: list[str],
    description: str = "",
    filter: EndpointFilter | None = None,
    secret: str | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its secret (generated unless given). It receives events that
    commit from now on; its bodies carry what the registering principal may read."""
    owner = tx.actor
    if owner.kind not in _ACTOR_TYPES or owner.id is None:
        raise BadInput("only a user or an API key can own a webhook", field="input")
    secret = _check_secret(secret) if secret is not None else new_secret()
    _, latest = await events.bounds(tx)
    endpoint_id = uuid7()
    endpoint = await WebhookEndpoint.create(
        tenant_id=tx.tenant_id, id=endpoint_id, url=_check_url(url), description=_check_description(description),
        event_types=_check_types(event_types), conditions=_check_filter(filter), cursor=latest,
        secret=keys.seal(secret, context=_secret_context(tx.tenant_id, endpoint_id)),
        owner_kind=owner.kind.value, owner_id=owner.id,
    )  # fmt: skip
    return endpoint, secret


def _secret_context(tenant_id: UUID, endpoint_id: UUID) -> str:
    return f"webhook_endpoints.secret:{tenant_id}:{endpoint_id}"


def signing_secret(keys: Keyring, tenant_id: UUID, endpoint: WebhookEndpoint) -> str:
    """The endpoint's secret in clear. A value stored before secrets were sealed is still in
    clear until `backend.cli secrets reseal` seals it."""
    if not endpoint.secret.startswith(f"{crypto.PREFIX}:"):
        return endpoint.secret
    return keys.open(endpoint.secret, context=_secret_context(tenant_id, endpoint.id))


async def reseal(tx: TenantContext, keys: Keyring) -> int:
    """Seal the tenant's secrets stored in clear or under an older key with the current key."""
    count = 0
    for endpoint in await WebhookEndpoint.filter(tenant_id=tx.tenant_id):
        if not keys.is_current(endpoint.secret):
            sealed = keys.seal(
                signing_secret(keys, tx.tenant_id, endpoint), context=_secret_context(tx.tenant_id, endpoint.id)
            )
            await WebhookEndpoint.filter(tenant_id=tx.tenant_id, id=endpoint.id).update(secret=sealed)
            count += 1
    return count


def _check_description(text: str) -> str:
    if len(text) > 500:
        raise BadInput("a description has at most 500 characters", field="description")
    return text


async def get(tx: TenantContext, endpoint_id: UUID) -> WebhookEndpoint:
    endpoint = await WebhookEndpoint.get_or_none(tenant_id=tx.tenant_id, id=endpoint_id)
    if endpoint is None:
        raise NotFound("no such webhook", field="id")
    return endpoint


async def endpoints_by_id(tx: TenantContext, ids: list[UUID]) -> list[WebhookEndpoint]:
    return await WebhookEndpoint.filter(tenant_id=tx.tenant_id, id__in=ids)


async def list_endpoints(tx: TenantContext) -> list[WebhookEndpoint]:
    return await WebhookEndpoint.filter(tenant_id=tx.tenant_id).order_by("created_at", "id")


async def update(
    tx: TenantContext,
    keys: Keyring,
    endpoint_id: UUID,
    *,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    filter: EndpointFilter | None = None,
    clear_filter: bool = False,
    secret: str | None = None,
) -> WebhookEndpoint:
    """Change what is given; a changed secret signs every later attempt (retries included)."""
    endpoint = await get(tx, endpoint_id)
    changed: dict[str, Any] = {}
    if url is not None:
        changed["url"] = _check_url(url)
    if event_types is not None:
        changed["event_types"] = _check_types(event_types)
    if description is not None:
        changed["description"] = _check_description(description)
    if clear_filter or filter is not None:
        changed["conditions"] = _check_filter(filter)
    if secret is not None:
        changed["secret"] = keys.seal(_check_secret(secret), context=_secret_context(tx.tenant_id, endpoint.id))
    if changed:
        # Only these columns: the dispatcher and the workers move the cursor and the failure
        # counters of the same row concurrently.
        await WebhookEndpoint.filter(tenant_id=tx.tenant_id, id=endpoint.id).update(**changed)
    await endpoint.refresh_from_db()
    return endpoint


async def pause(tx: TenantContext, endpoint_id: UUID) -> WebhookEndpoint:
    """Stop sending: events keep accumulating after the cursor and are sent on resume."""
    endpoint = await get(tx, endpoint_id)
    if endpoint.status is not EndpointStatus.ACTIVE:
        raise BadInput(f"the webhook is {endpoint.status.value}", field="id")
    return await _set_status(tx, endpoint, EndpointStatus.PAUSED)


async def resume(tx: TenantContext, endpoint_id: UUID) -> WebhookEndpoint:
    """Send again, from where it stopped: the events since the pause (or the disabling), then
    the deliveries that were waiting, retried afresh."""
    endpoint = await get(tx, endpoint_id)
    if endpoint.status is EndpointStatus.ACTIVE:
        raise BadInput("the webhook is active", field="id")
    await tx.execute(
        "UPDATE webhook_deliveries SET queued_at = NULL, next_attempt_at = now() "
        "WHERE tenant_id = $1 AND endpoint_id = $2 AND status IN ('pending', 'retrying')",
        tx.tenant_id,
        endpoint.id,
    )
    return await _set_status(tx, endpoint, EndpointStatus.ACTIVE)


async def _set_status(tx: TenantContext, endpoint: WebhookEndpoint, status: EndpointStatus) -> WebhookEndpoint:
    await tx.execute(
        "UPDATE webhook_endpoints SET status = $3, disabled_reason = NULL, consecutive_failures = 0, "
        "failing_since = NULL WHERE tenant_id = $1 AND id = $2",
        tx.tenant_id,
        endpoint.id,
        status.value,
    )
    await endpoint.refresh_from_db()
    return endpoint


async def delete(tx: TenantContext, endpoint_id: UUID) -> None:
    endpoint = await get(tx, endpoint_id)
    await tx.execute("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2", tx.tenant_id, endpoint.id)


async def ping(tx: TenantContext, endpoint_id: UUID) -> WebhookDelivery:
    """One `webhook.ping` delivery, tried once (no retries; it does not count towards disabling)."""
    endpoint = await get(tx, endpoint_id)
    if endpoint.status is not EndpointStatus.ACTIVE:
        raise BadInput(f"the webhook is {endpoint.status.value}: resume it first", field="id")
    return await WebhookDelivery.create(
        tenant_id=tx.tenant_id, id=uuid7(), endpoint_id=endpoint.id, kind=DeliveryKind.PING, event_type=PING,
        next_attempt_at=datetime.now(UTC),
    )  # fmt: skip


async def replay(tx: TenantContext, endpoint_id: UUID, from_seq: int, to_seq: int) -> int:
    """Deliver the events `from_seq`..`to_seq` (inclusive) again to one endpoint, those of its
    types and filter; every event of the range must still be retained. Returns how many."""
    endpoint = await get(tx, endpoint_id)
    if not 1 <= from_seq <= to_seq or to_seq - from_seq >= MAX_REPLAY:
        raise BadInput(f"1 <= fromSeq <= toSeq, at most {MAX_REPLAY} events", field="fromSeq")
    oldest, latest = await events.bounds(tx)
    if from_seq <= oldest:
        raise BadInput(f"events up to seq {oldest} are no longer retained", field="fromSeq")
    if to_seq > latest:
        raise BadInput(f"the latest event is seq {latest}", field="toSeq")
    where = EndpointFilter.of(endpoint.conditions)
    chosen = [e for e in await _events_between(tx, endpoint.event_types, from_seq - 1, to_seq) if where.matches(e)]
    await _insert_deliveries(tx, endpoint.id, chosen, DeliveryKind.REPLAY, queued=False)
    return len(chosen)


async def _events_between(tx: TenantContext, types: list[str], after: int, until: int) -> list[events.Event]:
    """The events with after < seq <= until of these types."""
    found: list[events.Event] = []
    while after < until:
        page = await events.after(tx, after, types=types)
        found += [e for e in page if e.seq <= until]
        if len(page) < events.PAGE_MAX:
            break
        after = page[-1].seq
    return found


async def _insert_deliveries(
    tx: TenantContext, endpoint_id: UUID, chosen: list[events.Event], kind: DeliveryKind, *, queued: bool
) -> list[UUID]:
    ids = [uuid7() for _ in chosen]
    if chosen:
        await tx.execute(
            "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, kind, seq, event_type, queued_at) "
            "SELECT $1, d.id, $2, $3, d.seq, d.type, CASE WHEN $4 THEN now() END "
            "FROM unnest($5::uuid[], $6::int8[], $7::text[]) AS d (id, seq, type)",
            tx.tenant_id,
            endpoint_id,
            kind.value,
            queued,
            ids,
            [e.seq for e in chosen],
            [e.type for e in chosen],
        )
    return ids


# -- the delivery log ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    deliveries: list[WebhookDelivery]
    has_more: bool


def delivery_cursor(delivery: WebhookDelivery) -> str:
    return base64.urlsafe_b64encode(delivery.id.bytes).decode()


async def deliveries(
    tx: TenantContext, endpoint_id: UUID, *, status: DeliveryStatus | None, first: int, after: str | None
) -> DeliveryPage:
    """An endpoint's deliveries, newest first."""
    endpoint = await get(tx, endpoint_id)
    query = WebhookDelivery.filter(tenant_id=tx.tenant_id, endpoint_id=endpoint.id)
    if status is not None:
        query = query.filter(status=status)
    if after is not None:
        try:
            query = query.filter(id__lt=UUID(bytes=base64.urlsafe_b64decode(after.encode())))
        except (binascii.Error, ValueError):
            raise BadInput("not a valid cursor", field="after") from None
    rows = await query.order_by("-id").limit(first + 1)
    return DeliveryPage(rows[:first], len(rows) > first)


async def deliveries_by_id(tx: TenantContext, ids: list[UUID]) -> list[WebhookDelivery]:
    return await WebhookDelivery.filter(tenant_id=tx.tenant_id, id__in=ids)


async def count_deliveries(tx: TenantContext, endpoint_id: UUID, status: DeliveryStatus | None) -> int:
    query = WebhookDelivery.filter(tenant_id=tx.tenant_id, endpoint_id=endpoint_id)
    if status is not None:
        query = query.filter(status=status)
    return await query.count()


# -- the dispatcher's side -------------------------------------------------------------------


async def fan_out(tx: TenantContext) -> tuple[list[UUID], int]:
    """Deliveries for every active endpoint's events after its cursor; moves the cursors.
    Returns the new deliveries, to be queued once `tx` has committed, and the tenant's latest
    seq, which every active endpoint has now seen.

    Endpoints are locked, so concurrent dispatchers (several workers) take turns instead of
    fanning the same events out twice."""
    endpoints = await tx.fetch(
        "SELECT id, event_types, conditions, cursor FROM webhook_endpoints WHERE tenant_id = $1 AND status = 'active' "
        "ORDER BY id FOR UPDATE",
        tx.tenant_id,
    )
    # Every seq up to `latest` is visible once `latest` is (seqs are assigned at commit, in
    # commit order), so reading up to it misses nothing and the cursor may move to it.
    _, latest = await events.bounds(tx)
    behind = [endpoint for endpoint in endpoints if endpoint["cursor"] < latest]
    if not behind:
        return [], latest
    # One read of the range for all of them (the union of their types), then each takes its own.
    every_type = [t for endpoint in behind for t in endpoint["event_types"]]
    pending = await _events_between(tx, every_type, min(endpoint["cursor"] for endpoint in behind), latest)
    created: list[UUID] = []
    for endpoint in behind:
        where = EndpointFilter.of(endpoint["conditions"])
        types = endpoint["event_types"]
        chosen = [
            e for e in pending if e.seq > endpoint["cursor"] and events.matches(types, e.type) and where.matches(e)
        ]
        created += await _insert_deliveries(tx, endpoint["id"], chosen, DeliveryKind.EVENT, queued=True)
        await tx.execute(
            "UPDATE webhook_endpoints SET cursor = $3 WHERE tenant_id = $1 AND id = $2",
            tx.tenant_id,
            endpoint["id"],
            latest,
        )
    return created, latest


async def due(tx: TenantContext, *, stale: timedelta) -> list[UUID]:
    """Deliveries of active endpoints that need a message: never queued (pings, replays,
    resumed endpoints), or overdue by `stale` (a message lost with a broker or a worker whose
    lease ran out). Marks them queued."""
    rows = await tx.fetch(
        "UPDATE webhook_deliveries d SET queued_at = now() FROM webhook_endpoints e "
        "WHERE d.tenant_id = $1 AND e.tenant_id = $1 AND e.id = d.endpoint_id AND e.status = 'active' "
        "AND d.status IN ('pending', 'retrying') "
        "AND ((d.queued_at IS NULL AND d.next_attempt_at <= now()) OR d.next_attempt_at < now() - $2::interval) "
        "RETURNING d.id",
        tx.tenant_id,
        stale,
    )
    return [row["id"] for row in rows]


# -- the worker's side -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempt:
    delivery: WebhookDelivery
    endpoint: WebhookEndpoint
    event: events.Event | None  # None for a ping


def lease(settings: Settings) -> timedelta:
    """How long a claimed attempt may take before another worker may try it again."""
    return timedelta(seconds=3 * settings.webhook_timeout_seconds + 30)


async def claim(tx: TenantContext, delivery_id: UUID, settings: Settings) -> Attempt | None:
    """Start an attempt of a delivery that is due and whose endpoint is active; None when there
    is nothing to do (done already, not due: a duplicate message, or the endpoint is paused)."""
    row = await tx.fetchrow(
        "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = now() + $3::interval, "
        "last_attempt_at = now() FROM webhook_endpoints e "
        "WHERE d.tenant_id = $1 AND d.id = $2 AND e.tenant_id = $1 AND e.id = d.endpoint_id "
        "AND e.status = 'active' AND d.status IN ('pending', 'retrying') "
        "AND d.next_attempt_at <= now() + interval '1 second' RETURNING d.id",
        tx.tenant_id,
        delivery_id,
        lease(settings),
    )
    if row is None:
        return None
    delivery = await WebhookDelivery.get(tenant_id=tx.tenant_id, id=delivery_id)
    endpoint = await WebhookEndpoint.get(tenant_id=tx.tenant_id, id=delivery.endpoint_id)  # type: ignore[attr-defined]
    if delivery.seq is None:
        return Attempt(delivery, endpoint, None)
    found = await events.after(tx, delivery.seq - 1, limit=1)
    if not found or found[0].seq != delivery.seq:
        await tx.execute(
            "UPDATE webhook_deliveries SET status = 'dead', error = 'the event is no longer retained' "
            "WHERE tenant_id = $1 AND id = $2",
            tx.tenant_id,
            delivery_id,
        )
        return None
    return Attempt(delivery, endpoint, found[0])


async def body(attempt: Attempt, tenant_id: UUID, readable: Readable) -> bytes:
    """The JSON body: the event, with only the fields the endpoint's owner may read."""
    delivery, endpoint, event = attempt.delivery, attempt.endpoint, attempt.event
    if event is None:
        return orjson.dumps(
            {"id": str(delivery.id), "type": PING, "webhookId": global_id(ENTITY, endpoint.id),
             "at": datetime.now(UTC).isoformat()}
        )  # fmt: skip
    owner = f"{endpoint.owner_kind}:{endpoint.owner_id}"
    names = {*(event.data or {}), *event.changed}
    allowed = await readable(tenant_id, owner, event.entity, names)
    actor_type = _ACTOR_TYPES.get(event.actor_kind)
    payload: dict[str, Any] = {
        "id": str(delivery.id),
        "seq": event.seq,
        "type": event.type,
        "entity": event.entity,
        "entityId": global_id(event.entity, event.entity_id) if event.entity_id else None,
        "changed": [c for c in event.changed if c in allowed],
        "data": None if event.data is None else {k: v for k, v in event.data.items() if k in allowed},
        "actor": {
            "kind": event.actor_kind.value,
            "id": global_id(actor_type, event.actor_id) if actor_type and event.actor_id else None,
        },
        "at": event.at.isoformat(),
        "replay": delivery.kind is DeliveryKind.REPLAY,
    }
    return orjson.dumps(payload)


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    """`t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def backoff(attempts: int, settings: Settings) -> float:
    """Seconds before the next attempt: doubling from the minimum up to the maximum, with
    "equal jitter" (half fixed, half random) so that failing deliveries spread out."""
    base = min(settings.webhook_min_backoff_seconds * 2 ** max(attempts - 1, 0), settings.webhook_max_backoff_seconds)
    delay: float = base / 2 + random.uniform(0, base / 2)  # jitter, not cryptography
    return delay


@dataclass(frozen=True, slots=True)
class Result:
    retry_in: float | None  # seconds until the retry that must be queued; None: nothing to queue
    disabled: bool


async def record(
    tx: TenantContext, attempt: Attempt, *, status: int | None, duration_ms: int, error: str | None, settings: Settings
) -> Result:
    """Record an attempt's outcome: success, a retry after a backoff, or dead (the retry window
    or the attempt limit is used up; pings are tried once). Failures of event deliveries count
    against the endpoint, which is disabled (with a `webhook.disabled` event for the admins)
    once it has failed for `webhook_disable_after_hours` and that many times in a row."""
    delivery, endpoint = attempt.delivery, attempt.endpoint
    if error is None:
        await tx.execute(
            "UPDATE webhook_deliveries SET status = 'succeeded', response_code = $3, duration_ms = $4, error = NULL, "
            "next_attempt_at = now() WHERE tenant_id = $1 AND id = $2",
            tx.tenant_id,
            delivery.id,
            status,
            duration_ms,
        )
        if delivery.kind is not DeliveryKind.PING:
            await tx.execute(
                "UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL "
                "WHERE tenant_id = $1 AND id = $2 AND consecutive_failures > 0",
                tx.tenant_id,
                endpoint.id,
            )
        return Result(None, False)
    window = timedelta(hours=settings.webhook_retry_hours)
    out_of_attempts = settings.webhook_max_attempts is not None and delivery.attempts >= settings.webhook_max_attempts
    dead = delivery.kind is DeliveryKind.PING or out_of_attempts or datetime.now(UTC) - delivery.created_at >= window
    disabled = False
    if delivery.kind is not DeliveryKind.PING:
        disabled = await _count_failure(tx, endpoint, settings)
    retry_in = None if dead else backoff(delivery.attempts, settings)
    await tx.execute(
        "UPDATE webhook_deliveries SET status = $3, response_code = $4, duration_ms = $5, error = $6, "
        "endpoint_disabled = endpoint_disabled OR $7, "
        "next_attempt_at = now() + coalesce($8::float8, 0) * interval '1 second', queued_at = now() "
        "WHERE tenant_id = $1 AND id = $2",
        tx.tenant_id,
        delivery.id,
        (DeliveryStatus.DEAD if dead else DeliveryStatus.RETRYING).value,
        status,
        duration_ms,
        error + ("; the endpoint is now disabled" if disabled else ""),
        disabled,
        retry_in,
    )
    # A disabled endpoint's retry waits for its resume (which queues it afresh).
    return Result(None if disabled else retry_in, disabled)


async def _count_failure(tx: TenantContext, endpoint: WebhookEndpoint, settings: Settings) -> bool:
    """Count a failed attempt; disable the endpoint if it has been failing for long enough."""
    row = await tx.fetchrow(
        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1, "
        "failing_since = coalesce(failing_since, now()) WHERE tenant_id = $1 AND id = $2 "
        "RETURNING status, consecutive_failures, failing_since",
        tx.tenant_id,
        endpoint.id,
    )
    assert row is not None
    long_enough = datetime.now(UTC) - row["failing_since"] >= timedelta(hours=settings.webhook_disable_after_hours)
    if row["status"] != EndpointStatus.ACTIVE.value or not long_enough:
        return False
    if row["consecutive_failures"] < settings.webhook_disable_after_failures:
        return False
    reason = f"every delivery failed since {row['failing_since'].isoformat()} ({row['consecutive_failures']} attempts)"
    await tx.execute(
        "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $3 WHERE tenant_id = $1 AND id = $2",
        tx.tenant_id,
        endpoint.id,
        reason,
    )
    await events.emit(tx, DISABLED, ENTITY, endpoint.id, {"url": endpoint.url, "disabledReason": reason})
    return True
