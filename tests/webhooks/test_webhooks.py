"""Webhooks end to end: GraphQL registers an endpoint, a mutation commits an event, the worker
process (real Redis) delivers it to a real HTTP receiver, signed; retries, dead letters,
disabling, pings, pause/resume, replays, SSRF refusal, field policy and tenant isolation."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from backend.db import tenant_transaction
from backend.events import service as events
from backend.models import Tenant
from tests import factories
from tests.conftest import Api, Database, eventually
from tests.webhooks.conftest import Inbox, Receiver

pytestmark = pytest.mark.usefixtures("worker")

README = Path(__file__).resolve().parents[2] / "README.md"
CREATE = """mutation($input: WebhookCreateInput!) {
  webhookCreate(input: $input) { secret webhook { id status eventTypes lastSeq } }
}"""
LOG = """query($id: ID!, $status: WebhookDeliveryStatus) {
  webhook(id: $id) {
    deliveries(status: $status, first: 100) {
      totalCount
      nodes { id kind seq eventType status attempts responseCode durationMs error endpointDisabled }
    }
  }
}"""
WEBHOOK = "query($id: ID!) { webhook(id: $id) { id status disabledReason consecutiveFailures lastSeq } }"
ACCOUNT = "mutation($name: String!) { accountCreate(input: {name: $name}) { account { id } } }"


def _verifier() -> Any:
    """The README's signature check, run as the documentation shows it."""
    block = re.search(r"```python\n(.*?def verify_signature.*?)```", README.read_text(), re.S)
    assert block is not None, "README shows how to verify a signature"
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)  # noqa: S102 - the README's own snippet
    return namespace["verify_signature"]


async def register(api: Api, tenant: Tenant, inbox: Inbox | str, types: list[str], **extra: Any) -> tuple[str, str]:
    """A webhook's (id, secret)."""
    url = inbox if isinstance(inbox, str) else inbox.url
    data = await api.data(
        tenant, CREATE, {"input": {"url": url, "eventTypes": types, **extra.pop("input", {})}}, **extra
    )
    created = data["webhookCreate"]
    assert created["webhook"]["status"] == "ACTIVE"
    return created["webhook"]["id"], created["secret"]


async def create_account(api: Api, tenant: Tenant, name: str) -> str:
    gid: str = (await api.data(tenant, ACCOUNT, {"name": name}))["accountCreate"]["account"]["id"]
    return gid


async def log(api: Api, tenant: Tenant, webhook_id: str, status: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.data(tenant, LOG, {"id": webhook_id, "status": status}))["webhook"][
        "deliveries"
    ]["nodes"]
    return found


async def wait_for_log(api: Api, tenant: Tenant, webhook_id: str, status: str, count: int = 1) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        found = await log(api, tenant, webhook_id, status)
        return found if len(found) >= count else None

    return await eventually(enough)


async def test_an_event_arrives_signed_with_the_api_ids(api: Api, tenant: Tenant, receiver: Receiver) -> None:
    inbox = receiver.inbox()
    webhook_id, secret = await register(api, tenant, inbox, ["account.*"])
    assert secret.startswith("whsec_")
    account_id = await create_account(api, tenant, "Acme")
    await api.data(tenant, 'mutation { contactCreate(input: {firstName: "Ann", lastName: "Lee"}) { contact { id } } }')
    second = await create_account(api, tenant, "Globex")

    requests = await inbox.wait(2)
    verify = _verifier()
    bodies = sorted((r.json for r in requests), key=lambda b: b["seq"])
    assert [(b["type"], b["entity"], b["entityId"]) for b in bodies] == [
        ("account.created", "Account", account_id),
        ("account.created", "Account", second),
    ]
    assert bodies[0]["data"]["name"] == "Acme" and bodies[0]["actor"]["kind"] == "user"
    for request in requests:
        assert request.headers["rapport-event"] == "account.created"
        assert verify(secret, request.headers["rapport-signature"], request.body)
        assert not verify(secret, request.headers["rapport-signature"], request.body + b" ")
        assert not verify("whsec_someone-else-entirely-000", request.headers["rapport-signature"], request.body)
    stale = re.sub(r"t=\d+", "t=1000000000", requests[0].headers["rapport-signature"])
    assert not verify(secret, stale, requests[0].body)  # an old timestamp is a replay

    delivered = await wait_for_log(api, tenant, webhook_id, "SUCCEEDED", 2)
    # The contact event is not of the webhook's types: no delivery at all, not even a failed one.
    assert len(await log(api, tenant, webhook_id)) == 2
    assert {(d["kind"], d["eventType"], d["attempts"], d["responseCode"]) for d in delivered} == {
        ("EVENT", "account.created", 1, 200)
    }
    assert all(d["durationMs"] is not None and d["error"] is None for d in delivered)


async def test_a_failing_receiver_gets_retries_until_it_answers(api: Api, tenant: Tenant, receiver: Receiver) -> None:
    inbox = receiver.inbox(script=(500, 503))
    webhook_id, _ = await register(api, tenant, inbox, ["account.created"])
    await create_account(api, tenant, "Flaky")

    requests = await inbox.wait(3)
    assert len({r.headers["rapport-delivery"] for r in requests}) == 1  # one delivery, three attempts
    assert len({r.json["seq"] for r in requests}) == 1
    (delivery,) = await wait_for_log(api, tenant, webhook_id, "SUCCEEDED")
    assert (delivery["attempts"], delivery["responseCode"], delivery["error"]) == (3, 200, None)
    webhook = (await api.data(tenant, WEBHOOK, {"id": webhook_id}))["webhook"]
    assert (webhook["status"], webhook["consecutiveFailures"]) == ("ACTIVE", 0)


async def test_a_delivery_is_dead_after_the_last_attempt(api: Api, tenant: Tenant, receiver: Receiver) -> None:
    inbox = receiver.inbox(otherwise=500)
    webhook_id, _ = await register(api, tenant, inbox, ["account.created"])
    await create_account(api, tenant, "Doomed")

    (dead,) = await wait_for_log(api, tenant, webhook_id, "DEAD")
    assert (dead["attempts"], dead["responseCode"]) == (4, 500)  # the worker allows 4 attempts
    assert dead["error"].startswith("HTTP 500")
    assert len(inbox.requests) == 4


async def test_an_endpoint_failing_for_long_is_disabled_and_admins_hear_of_it(
    api: Api, tenant: Tenant, receiver: Receiver
) -> None:
    watcher = receiver.inbox()
    await register(api, tenant, watcher, ["webhook.*"])
    inbox = receiver.inbox(otherwise=500)
    webhook_id, _ = await register(api, tenant, inbox, ["account.created"])
    await create_account(api, tenant, "One")
    await create_account(api, tenant, "Two")  # 2 deliveries x 4 attempts > 6 failures in a row

    (notice,) = await watcher.wait(1)
    assert (notice.json["type"], notice.json["entity"], notice.json["entityId"]) == (
        "webhook.disabled",
        "Webhook",
        webhook_id,
    )
    assert "failed since" in notice.json["data"]["disabledReason"]
    webhook = (await api.data(tenant, WEBHOOK, {"id": webhook_id}))["webhook"]
    assert webhook["status"] == "DISABLED" and webhook["disabledReason"] == notice.json["data"]["disabledReason"]
    marked = [d for d in await log(api, tenant, webhook_id) if d["endpointDisabled"]]
    assert len(marked) == 1 and marked[0]["error"].endswith("the endpoint is now disabled")
    async with tenant_transaction(tenant.id, readonly=True) as tx:
        assert [e.type for e in await events.after(tx, 0, types=["webhook.*"])] == ["webhook.disabled"]


async def test_ping(api: Api, tenant: Tenant, receiver: Receiver) -> None:
    inbox = receiver.inbox()
    webhook_id, secret = await register(api, tenant, inbox, ["ticket.*"])
    ping = await api.data(tenant, "mutation($id: ID!) { webhookPing(id: $id) { kind status } }", {"id": webhook_id})
    assert ping["webhookPing"] == {"kind": "PING", "status": "PENDING"}

    (request,) = await inbox.wait(1)
    assert request.json["type"] == "webhook.ping" and request.json["webhookId"] == webhook_id
    assert _verifier()(secret, request.headers["rapport-signature"], request.body)
    (logged,) = await wait_for_log(api, tenant, webhook_id, "SUCCEEDED")
    assert logged["kind"] == "PING" and logged["seq"] is None


async def test_pause_holds_events_and_resume_sends_them(api: Api, tenant: Tenant, receiver: Receiver) -> None:
    marker, paused = receiver.inbox(), receiver.inbox()
    await register(api, tenant, marker, ["account.created"])
    webhook_id, _ = await register(api, tenant, paused, ["account.created"])
    state = await api.data(tenant, "mutation($id: ID!) { webhookPause(id: $id) { status } }", {"id": webhook_id})
    assert state["webhookPause"]["status"] == "PAUSED"

    held = await create_account(api, tenant, "Held")
    await marker.wait(1)  # the dispatcher has been past this event for every webhook of the tenant
    assert paused.requests == [] and await log(api, tenant, webhook_id) == []

    await api.data(tenant, "mutation($id: ID!) { webhookResume(id: $id) { status } }", {"id": webhook_id})
    (request,) = await paused.wait(1)
    assert request.json["entityId"] == held


async def test_replay_sends_a_retained_range_again(api: Api, tenant: Tenant, receiver: Receiver) -> None:
    inbox = receiver.inbox()
    webhook_id, _ = await register(api, tenant, inbox, ["account.created"])
    await create_account(api, tenant, "First")
    await create_account(api, tenant, "Second")
    first = sorted(r.json["seq"] for r in await inbox.wait(2))

    replay = "mutation($id: ID!, $from: Seq!, $to: Seq!) { webhookReplay(id: $id, fromSeq: $from, toSeq: $to) }"
    count = await api.data(tenant, replay, {"id": webhook_id, "from": first[0], "to": first[1]})
    assert count["webhookReplay"] == 2
    again = (await inbox.wait(4))[2:]
    assert sorted(r.json["seq"] for r in again) == first and all(r.json["replay"] for r in again)
    assert {r.headers["rapport-delivery"] for r in again}.isdisjoint(
        r.headers["rapport-delivery"] for r in inbox.requests[:2]
    )
    assert len(await wait_for_log(api, tenant, webhook_id, "SUCCEEDED", 4)) == 4

    (error,) = await api.errors(tenant, replay, {"id": webhook_id, "from": 0, "to": 1})
    assert (error["code"], error["field"]) == ("BAD_USER_INPUT", "fromSeq")
    (error,) = await api.errors(tenant, replay, {"id": webhook_id, "from": 1, "to": first[1] + 1000})
    assert (error["code"], error["field"]) == ("BAD_USER_INPUT", "toSeq")
    # Seqs outgrow GraphQL's 32-bit Int: past it the range is judged, not the number refused.
    (error,) = await api.errors(tenant, replay, {"id": webhook_id, "from": 1, "to": 2**40})
    assert error["code"] == "BAD_USER_INPUT" and error["field"] in ("fromSeq", "toSeq"), error
    for bad in (-1, "5", 1.5, 2**53):
        (error,) = await api.errors(tenant, replay, {"id": webhook_id, "from": bad, "to": 1})
        assert error["code"] == "BAD_USER_INPUT" and "Seq" in error["message"], bad


async def test_private_addresses_are_refused_outside_the_allowlist(api: Api, tenant: Tenant) -> None:
    # The worker allows 127.0.0.1 only (its allowlist); 10.x is private.
    webhook_id, _ = await register(api, tenant, "http://10.255.255.1:9/hook", ["account.created"])
    await create_account(api, tenant, "Probe")
    (dead,) = await wait_for_log(api, tenant, webhook_id, "DEAD")
    assert dead["responseCode"] is None and dead["error"].startswith("refused:")
    assert "not a public address" in dead["error"]


async def test_bodies_carry_only_fields_the_owner_may_read(api: Api, tenant: Tenant, receiver: Receiver) -> None:
    inbox = receiver.inbox()
    # An integrator (manages webhooks) who is also a viewer (personal data denied, deny wins).
    owner = {"subject": "limited", "roles": ("integrator", "viewer")}
    await register(api, tenant, inbox, ["contact.*"], **owner)
    created = await api.data(
        tenant,
        'mutation { contactCreate(input: {firstName: "Ann", lastName: "Lee", email: "ann@example.com", '
        'title: "CTO"}) { contact { id } } }',
    )
    contact_id = created["contactCreate"]["contact"]["id"]
    await api.data(tenant, f'mutation {{ contactUpdate(id: "{contact_id}", input: {{email: "a@b.example", '
                   'title: "CEO"}) { contact { id } } }')  # fmt: skip

    requests = await inbox.wait(2)
    bodies = {r.json["type"]: r.json for r in requests}
    for body in bodies.values():
        assert body["data"]["title"] in ("CTO", "CEO")
        assert not {"firstName", "lastName", "email", "phone", "tenantId"} & set(body["data"])
    assert bodies["contact.updated"]["changed"] == ["title"]  # `email` changed too, but is not theirs to see


async def test_tenants_never_see_each_others_webhooks_or_events(
    api: Api, tenant: Tenant, other_tenant: Tenant, receiver: Receiver
) -> None:
    mine, theirs = receiver.inbox(), receiver.inbox()
    await register(api, tenant, mine, ["*"])
    their_id, _ = await register(api, other_tenant, theirs, ["*"])
    await create_account(api, tenant, "Private")
    await mine.wait(1)
    assert theirs.requests == [] and await log(api, other_tenant, their_id) == []

    for query, variables in (
        (WEBHOOK, {"id": their_id}),
        (LOG, {"id": their_id}),
        ("mutation($id: ID!) { webhookPause(id: $id) { id } }", {"id": their_id}),
        ("mutation($id: ID!) { webhookPing(id: $id) { id } }", {"id": their_id}),
        ("mutation($id: ID!) { webhookDelete(id: $id) }", {"id": their_id}),
    ):
        (error,) = await api.errors(tenant, query, variables)
        assert error["code"] == "NOT_FOUND", query
    assert [w["id"] for w in (await api.data(other_tenant, "{ webhooks { id } }"))["webhooks"]] == [their_id]


async def test_registration_checks_its_input_and_who_asks(api: Api, tenant: Tenant) -> None:
    for given, field in (
        ({"url": "ftp://example.com/", "eventTypes": ["ticket.*"]}, "url"),
        ({"url": "https://example.com/", "eventTypes": ["Ticket Created"]}, "eventTypes"),
        ({"url": "https://example.com/", "eventTypes": []}, "eventTypes"),
        ({"url": "https://example.com/", "eventTypes": ["*"], "secret": "short"}, "secret"),
    ):
        (error,) = await api.errors(tenant, CREATE, {"input": given})
        assert (error["code"], error["field"]) == ("BAD_USER_INPUT", field), given
    (error,) = await api.errors(
        tenant,
        CREATE,
        {"input": {"url": "https://example.com/", "eventTypes": ["*"]}},
        subject="val",
        roles=("viewer",),
    )
    assert error["code"] == "FORBIDDEN"


async def test_update_delete_and_a_given_secret(api: Api, tenant: Tenant, receiver: Receiver) -> None:
    inbox = receiver.inbox()
    chosen = "whsec_my-own-secret-of-enough-length"
    webhook_id, secret = await register(api, tenant, "https://example.com/", ["ticket.*"], input={"secret": chosen})
    assert secret == chosen
    update = """mutation($id: ID!, $input: WebhookUpdateInput!) {
      webhookUpdate(id: $id, input: $input) { url eventTypes filter { changed } }
    }"""
    updated = await api.data(tenant, update, {"id": webhook_id, "input": {
        "url": inbox.url, "eventTypes": ["account.updated"], "filter": {"changed": ["industry"]}}})  # fmt: skip
    assert updated["webhookUpdate"] == {"url": inbox.url, "eventTypes": ["account.updated"],
                                        "filter": {"changed": ["industry"]}}  # fmt: skip
    account_id = await create_account(api, tenant, "Filtered")
    change = (
        "mutation($id: ID!, $input: AccountUpdateInput!) { accountUpdate(id: $id, input: $input) { account { id } } }"
    )
    await api.data(tenant, change, {"id": account_id, "input": {"domain": "a.example"}})
    await api.data(tenant, change, {"id": account_id, "input": {"industry": "Retail"}})
    (request,) = await inbox.wait(1)
    assert request.json["changed"] == ["industry"]  # the domain change did not pass the filter
    assert _verifier()(chosen, request.headers["rapport-signature"], request.body)

    deleted = await api.data(tenant, "mutation($id: ID!) { webhookDelete(id: $id) }", {"id": webhook_id})
    assert deleted["webhookDelete"] == webhook_id
    (error,) = await api.errors(tenant, WEBHOOK, {"id": webhook_id})
    assert error["code"] == "NOT_FOUND"
    async with tenant_transaction(tenant.id, readonly=True) as tx:
        actions = [r["action"] for r in await tx.fetch(
            "SELECT action FROM audit_log WHERE tenant_id = $1 AND entity = 'webhook_endpoints'", tenant.id)]  # fmt: skip
    assert {"insert", "webhook.create", "update", "delete"} <= set(actions)


async def test_events_missed_while_the_listener_was_away_are_caught_up(
    api: Api, tenant: Tenant, receiver: Receiver, database: Database
) -> None:
    inbox = receiver.inbox()
    await register(api, tenant, inbox, ["account.created"])
    conn = await asyncpg.connect(database.superuser_url)
    try:
        listening = "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = $1 AND application_name = $2"
        (old,) = await conn.fetch(listening, database.name, "rapport-worker")
        await conn.execute("SELECT pg_terminate_backend($1)", old["pid"])
        account_id = await create_account(api, tenant, "Unheard")  # NOTIFY while nobody listens

        (request,) = await inbox.wait(1)
        assert request.json["entityId"] == account_id
        for _ in range(100):  # and the worker listens again (its reset catches up as well)
            if await conn.fetch(listening, database.name, "rapport-worker"):
                break
            await asyncio.sleep(0.1)
        (new,) = await conn.fetch(listening, database.name, "rapport-worker")
        assert new["pid"] != old["pid"]
    finally:
        await conn.close()


async def test_events_without_a_wake_up_are_found_by_the_heads_check(
    api: Api, tenant: Tenant, receiver: Receiver
) -> None:
    inbox = receiver.inbox()
    await register(api, tenant, inbox, ["account.created"])
    async with tenant_transaction(tenant.id, wake=False) as tx:  # as a process killed after its commit
        account = await factories.account(tx, name="Quiet")
    (request,) = await inbox.wait(1, within=10)  # the dispatcher looks at event heads every 2 s
    assert request.json["data"]["name"] == "Quiet" and request.json["data"]["id"] == str(account.id)
