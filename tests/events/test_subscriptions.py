"""Subscriptions over a real WebSocket against a real uvicorn: live events, resume without gap
or duplicate, tenants apart, field policy and record scopes, both protocols, credentials
checked while the socket lives, slow consumers cut off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from backend.auth import issue_token
from backend.db import tenant_transaction
from backend.events import service as events
from backend.models import Tenant
from schema.relay import to_global_id
from tests import factories
from tests.access.test_admin_api import sign_in
from tests.conftest import Api
from tests.events.ws import LEGACY_WS, connected, subscription

EVENTS = "subscription ($after: Seq, $types: [String!]) { events(after: $after, types: $types) { seq type entity entityId changedFields actorKind actor at } }"
CREATE = "mutation ($n: String!) { accountCreate(input: {name: $n}) { account { id } } }"
UPDATE = "mutation ($id: ID!, $i: String!) { accountUpdate(id: $id, input: {industry: $i}) { account { id } } }"


async def _create(api: Api, tenant: Tenant, name: str, **token: Any) -> str:
    data = await api.data(tenant, CREATE, {"n": name}, **token)
    gid: str = data["accountCreate"]["account"]["id"]
    return gid


async def _latest(tenant: Tenant) -> int:
    async with tenant_transaction(tenant.id, readonly=True) as tx:
        latest: int = await tx.fetchval("SELECT coalesce(max(seq), 0) FROM events WHERE tenant_id = $1", tenant.id)
    return latest


async def test_live_events_then_resume_with_exactly_the_missed_ones(api: Api, tenant: Tenant) -> None:
    token = api.token(tenant)
    await _create(api, tenant, "First")  # the user exists now: later events are only ours
    async with subscription(api.url, token, EVENTS, {"types": ["account.*"]}) as client:
        gid = await _create(api, tenant, "Live")
        event = (await client.next())["events"]
        assert event["type"] == "account.created" and event["entity"] == "Account" and event["entityId"] == gid
        assert event["actorKind"] == "user" and event["actor"].startswith("VXNlcj")  # User:...
        seen = event["seq"]
    for industry in ("A", "B", "C"):  # while disconnected
        await api.data(tenant, UPDATE, {"id": gid, "i": industry})
    async with subscription(api.url, token, EVENTS, {"after": seen}) as client:
        missed = [(await client.next())["events"] for _ in range(3)]
        assert [e["seq"] for e in missed] == [seen + 1, seen + 2, seen + 3]
        assert [e["type"] for e in missed] == ["account.updated"] * 3
        assert all(e["changedFields"] == ["industry"] for e in missed)
        await client.quiet(0.3)
        await api.data(tenant, UPDATE, {"id": gid, "i": "D"})
        assert (await client.next())["events"]["seq"] == seen + 4


async def test_resume_pages_through_a_long_gap_and_refuses_a_pruned_one(api: Api, tenant: Tenant) -> None:
    token = api.token(tenant)
    async with tenant_transaction(tenant.id) as tx:
        for i in range(1205):
            await factories.account(tx, name=f"Bulk {i}")
    latest = await _latest(tenant)
    async with subscription(api.url, token, "subscription { events(after: 0) { seq } }") as client:
        seqs = [(await client.next())["events"]["seq"] for _ in range(latest)]
    assert seqs == list(range(1, latest + 1))
    async with tenant_transaction(tenant.id) as tx:
        assert await events.prune(tx, timedelta(0)) >= latest - 1
        oldest, _ = await events.bounds(tx)
    async with subscription(api.url, token, "subscription { events(after: 3) { seq } }") as client:
        error = await client.receive()
    assert error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "EVENTS_EXPIRED"
    assert error["payload"][0]["extensions"]["oldest"] == oldest


async def test_tenants_see_only_their_own_events(api: Api, tenant: Tenant, other_tenant: Tenant) -> None:
    await _create(api, other_tenant, "B's first")
    async with subscription(api.url, api.token(other_tenant), EVENTS) as b_client:
        for i in range(3):
            await _create(api, tenant, f"A {i}")
        await b_client.quiet(0.5)
        gid = await _create(api, other_tenant, "B's own")
        assert (await b_client.next())["events"]["entityId"] == gid


async def test_legacy_protocol_streams_too(api: Api, tenant: Tenant) -> None:
    await _create(api, tenant, "First")
    seen = await _latest(tenant)
    async with subscription(api.url, api.token(tenant), EVENTS, {"after": seen}, protocol=LEGACY_WS) as client:
        gid = await _create(api, tenant, "Legacy")
        event = (await client.next())["events"]
        assert (event["seq"], event["entityId"]) == (seen + 1, gid)
        await client.send({"type": "stop", "id": "1"})
        assert (await client.receive()) == {"type": "complete", "id": "1"}


async def test_refused_credentials_close_with_the_protocols_code(api: Api) -> None:
    async with connected(api.url) as client:
        await client.send({"type": "connection_init", "payload": {"Authorization": "Bearer nonsense"}})
        assert await client.closed() == (4403, "Forbidden: authentication required")
    async with connected(api.url, LEGACY_WS) as client:
        refused = await client.init(None)
        assert refused["type"] == "connection_error"
        assert refused["payload"]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await client.closed())[0] == 4403
    async with connected(api.url) as client:
        await client.send({"type": "subscribe", "id": "1", "payload": {"query": "subscription { events { seq } }"}})
        assert await client.closed() == (4401, "Unauthorized")


NODE_EVENTS = """subscription { events(types: ["account.*", "contact.*"]) {
  type entityId node { id ... on Account { name } ... on Contact { lastName } } } }"""


async def _viewer(api: Api, tenant: Tenant) -> str:
    """A token of `vic`, a viewer, in a tenant that also has an admin (who may change policies)."""
    await sign_in(api, tenant, "alice", "admin")
    await sign_in(api, tenant, "vic", "viewer")
    return api.token(tenant, subject="vic", roles=("viewer",))


async def test_a_denied_field_refuses_the_subscription_before_it_starts(api: Api, tenant: Tenant) -> None:
    token = await _viewer(api, tenant)
    denied = "subscription { events { seq node { ... on Contact { email } } } }"
    async with subscription(api.url, token, denied) as client:
        error = await client.receive()
    assert error["type"] == "error" and error["id"] == "1"
    assert [e["extensions"]["code"] for e in error["payload"]] == ["FORBIDDEN"]
    assert "Contact.email" in error["payload"][0]["message"]
    allowed = "subscription { events { type node { id ... on Account { name } } } }"
    async with subscription(api.url, token, allowed) as client:
        async with tenant_transaction(tenant.id) as tx:
            account = await factories.account(tx, name="Visible")
            await factories.contact(tx, account, last_name="Hidden", email="secret@example.com")
        created = [(await client.next())["events"] for _ in range(2)]
    # The payloads hold what was selected and allowed, nothing of the contact's personal data.
    assert created == [
        {"type": "account.created", "node": {"id": to_global_id("Account", account.id), "name": "Visible"}},
        {"type": "contact.created", "node": {"id": created[1]["node"]["id"]}},
    ]


async def test_record_scope_keeps_rows_outside_it_out_of_the_stream(api: Api, tenant: Tenant) -> None:
    await sign_in(api, tenant, "alice", "admin")
    bob = await sign_in(api, tenant, "bob", "sales")
    await api.data(
        tenant, 'mutation { roleScopeSet(role: "sales", type: "Account", action: "read", scope: OWN) { name } }'
    )
    token = api.token(tenant, subject="bob", roles=("sales",))
    async with subscription(api.url, token, NODE_EVENTS) as client:
        await _create(api, tenant, "Not Bob's")
        mine = await api.data(
            tenant,
            'mutation ($o: ID!) { accountCreate(input: {name: "Bob\'s", ownerId: $o}) { account { id } } }',
            {"o": bob},
        )
        event = (await client.next())["events"]
        assert event["entityId"] == mine["accountCreate"]["account"]["id"]
        assert event["node"]["name"] == "Bob's"
        await client.quiet(0.3)


async def test_account_changed_and_ticket_updates_follow_their_rows(api: Api, tenant: Tenant) -> None:
    token = api.token(tenant)
    gid = await _create(api, tenant, "Watched")
    other = await _create(api, tenant, "Other")
    changed = (
        "subscription ($id: ID!) { accountChanged(id: $id) { event { type changedFields } account { name industry } } }"
    )
    async with subscription(api.url, token, changed, {"id": gid}) as client:
        await api.data(tenant, UPDATE, {"id": other, "i": "Ignored"})
        await api.data(tenant, UPDATE, {"id": gid, "i": "Retail"})
        first = (await client.next())["accountChanged"]
        assert first == {
            "event": {"type": "account.updated", "changedFields": ["industry"]},
            "account": {"name": "Watched", "industry": "Retail"},
        }
        await api.data(tenant, "mutation ($id: ID!) { accountDelete(id: $id) { deletedId } }", {"id": gid})
        gone = (await client.next())["accountChanged"]
        assert gone["event"]["type"] == "account.deleted" and gone["account"] is None
    async with subscription(api.url, token, changed, {"id": gid}) as client:
        error = await client.receive()
        assert error["type"] == "error" and error["payload"][0]["extensions"]["code"] == "NOT_FOUND"

    urgent = "subscription { ticketUpdates(filter: {priority: {eq: URGENT}}) { event { type } ticket { subject priority } } }"
    async with tenant_transaction(tenant.id) as tx:
        account = await factories.account(tx)
    async with subscription(api.url, token, urgent) as client:
        async with tenant_transaction(tenant.id) as tx:
            await factories.ticket(tx, account, subject="Calm", priority="low")
            ticket = await factories.ticket(tx, account, subject="Fire", priority="urgent")
        update = (await client.next())["ticketUpdates"]
        assert update == {"event": {"type": "ticket.created"}, "ticket": {"subject": "Fire", "priority": "URGENT"}}
        async with tenant_transaction(tenant.id) as tx:
            await tx.execute(
                "UPDATE tickets SET subject = 'Fire!' WHERE tenant_id = $1 AND id = $2", tenant.id, ticket.id
            )
        assert (await client.next())["ticketUpdates"]["ticket"]["subject"] == "Fire!"
        # Deletions are matched against the ticket's last state: the urgent one is reported.
        async with tenant_transaction(tenant.id) as tx:
            await tx.execute("DELETE FROM tickets WHERE tenant_id = $1 AND subject = 'Calm'", tenant.id)
            await tx.execute("DELETE FROM tickets WHERE tenant_id = $1 AND id = $2", tenant.id, ticket.id)
        assert (await client.next())["ticketUpdates"] == {"event": {"type": "ticket.deleted"}, "ticket": None}
        await client.quiet(0.3)


async def test_deletions_reach_only_subscribers_whose_scope_held_the_row(api: Api, tenant: Tenant) -> None:
    await sign_in(api, tenant, "alice", "admin")
    bob = await sign_in(api, tenant, "bob", "sales")
    await api.data(
        tenant, 'mutation { roleScopeSet(role: "sales", type: "Account", action: "read", scope: OWN) { name } }'
    )
    theirs = await _create(api, tenant, "Not Bob's")
    mine = await api.data(
        tenant,
        'mutation ($o: ID!) { accountCreate(input: {name: "Bob\'s", ownerId: $o}) { account { id } } }',
        {"o": bob},
    )
    mine_id = mine["accountCreate"]["account"]["id"]
    token = api.token(tenant, subject="bob", roles=("sales",))
    deleted = 'subscription { events(types: ["account.deleted"]) { type entityId } }'
    async with subscription(api.url, token, deleted) as client:
        for gid in (theirs, mine_id):
            await api.data(tenant, "mutation ($id: ID!) { accountDelete(id: $id) { deletedId } }", {"id": gid})
        assert (await client.next())["events"] == {"type": "account.deleted", "entityId": mine_id}
        await client.quiet(0.3)


async def test_dashboard_counts_now_and_after_changes(api: Api, tenant: Tenant) -> None:
    token = api.token(tenant)
    async with tenant_transaction(tenant.id) as tx:
        account = await factories.account(tx)
        await factories.ticket(tx, account, priority="high")
        await factories.ticket(tx, account, status="closed")
    query = "subscription { dashboardUpdates { openTickets ordersToday tickets { status priority count } } }"
    async with subscription(api.url, token, query) as client:
        assert (await client.next())["dashboardUpdates"] == {
            "openTickets": 1,
            "ordersToday": 0,
            "tickets": [{"status": "open", "priority": "high", "count": 1}],
        }
        async with tenant_transaction(tenant.id) as tx:
            for _ in range(3):
                await factories.order(tx, account, ordered_at=datetime.now(UTC))
            await factories.ticket(tx, account, priority="high", status="pending")
        counters = (await client.next())["dashboardUpdates"]
        assert (counters["openTickets"], counters["ordersToday"]) == (2, 3)


async def test_expired_credentials_close_the_socket(api: Api, tenant: Tenant) -> None:
    await _create(api, tenant, "First")
    short = issue_token(
        api.settings, tenant_id=tenant.id, subject="alice", roles=["admin"], email="alice@example.com", ttl_seconds=2
    )
    async with subscription(api.url, short, EVENTS) as client:
        assert await client.closed() == (4401, "credentials expired")


async def test_a_revoked_api_key_closes_the_socket(api: Api, tenant: Tenant) -> None:
    created = await api.data(
        tenant, 'mutation { apiKeyCreate(input: {name: "feed", roles: ["viewer"]}) { secret apiKey { id } } }'
    )
    secret, key_id = created["apiKeyCreate"]["secret"], created["apiKeyCreate"]["apiKey"]["id"]
    async with subscription(api.url, secret, EVENTS) as client:
        await api.data(tenant, "mutation ($id: ID!) { apiKeyRevoke(id: $id) { revokedAt } }", {"id": key_id})
        assert await client.closed(wait=5) == (4403, "credentials revoked")


async def test_subscribers_of_one_event_get_their_own_selection(api: Api, tenant: Tenant) -> None:
    """An event's execution is shared between subscribers of the same document only."""
    token = api.token(tenant)
    await _create(api, tenant, "First")
    narrow = 'subscription { events(types: ["account.created"]) { seq } }'
    wide = 'subscription { events(types: ["account.created"]) { seq type entity } }'
    async with (
        subscription(api.url, token, narrow) as first,
        subscription(api.url, token, narrow) as second,
        subscription(api.url, token, wide) as third,
    ):
        await _create(api, tenant, "Shared")
        seq = await _latest(tenant)
        assert (await first.next())["events"] == (await second.next())["events"] == {"seq": seq}
        assert (await third.next())["events"] == {"seq": seq, "type": "account.created", "entity": "Account"}


async def test_a_policy_change_ends_subscriptions_to_fields_now_denied(api: Api, tenant: Tenant) -> None:
    token = await _viewer(api, tenant)
    names = "subscription { events { type node { ... on Account { name } } } }"
    async with subscription(api.url, token, names) as client:
        await client.subscribe("2", "subscription { events { type } }")
        await api.data(
            tenant, 'mutation { policyDeny(role: "viewer", object: "Account.name", action: "read") { name } }'
        )
        error = await client.receive()
        assert error["type"] == "error" and error["id"] == "1", error
        assert [e["extensions"]["code"] for e in error["payload"]] == ["FORBIDDEN"]
        assert "Account.name" in error["payload"][0]["message"]
        # The socket and the operation that selects nothing denied go on.
        await _create(api, tenant, "After the deny")
        assert (await client.next("2"))["events"] == {"type": "account.created"}


async def test_a_narrower_record_scope_ends_running_subscriptions_to_start_again(api: Api, tenant: Tenant) -> None:
    """Scopes are fixed when a subscription starts (they shape its statements and whether it
    shares a channel), so one that changes ends it with ACCESS_CHANGED; started again, it
    delivers by the new scope."""
    await sign_in(api, tenant, "alice", "admin")
    mia = await sign_in(api, tenant, "mia", "manager")
    token = api.token(tenant, subject="mia", roles=("manager",))
    async with subscription(
        api.url, token, 'subscription { events(types: ["account.created"]) { entityId } }'
    ) as client:
        await client.subscribe("2", 'subscription { events(types: ["ticket.created"]) { type } }')
        gid = await _create(api, tenant, "Before")
        assert (await client.next())["events"] == {"entityId": gid}
        await api.data(
            tenant, 'mutation { roleScopeSet(role: "manager", type: "Account", action: "read", scope: OWN) { name } }'
        )
        ended = [await client.receive(), await client.receive()]
        assert sorted(m["id"] for m in ended) == ["1", "2"]
        assert all(m["type"] == "error" for m in ended), ended
        assert {e["extensions"]["code"] for m in ended for e in m["payload"]} == {"ACCESS_CHANGED"}
        await client.subscribe("3", 'subscription { events(types: ["account.created"]) { entityId } }')
        await _create(api, tenant, "Not hers")  # no owner: outside mia's OWN scope now
        owned = 'mutation ($o: ID!) { accountCreate(input: {name: "Hers", ownerId: $o}) { account { id } } }'
        mine = (await api.data(tenant, owned, {"o": mia}))["accountCreate"]["account"]["id"]
        assert (await client.next("3"))["events"] == {"entityId": mine}


async def test_changed_fields_show_only_what_the_subscriber_may_read(api: Api, tenant: Tenant) -> None:
    """`viewer` may read contacts but not their personal data: it learns that a contact's title
    changed, not that its email did (as webhook bodies leave out what their owner cannot read)."""
    await sign_in(api, tenant, "alice", "admin")
    await sign_in(api, tenant, "val", "viewer")
    async with tenant_transaction(tenant.id) as tx:
        contact = await factories.contact(tx, await factories.account(tx))
    document = 'subscription { events(types: ["contact.updated"]) { entityId changedFields } }'
    update = 'mutation ($id: ID!) { contactUpdate(id: $id, input: {email: "new@example.com", title: "CTO"}) { contact { id } } }'
    async with (
        subscription(api.url, api.token(tenant, subject="alice"), document) as admin,
        subscription(api.url, api.token(tenant, subject="val", roles=("viewer",)), document) as viewer,
    ):
        await api.data(tenant, update, {"id": to_global_id("Contact", contact.id)}, subject="alice")
        assert (await admin.next())["events"]["changedFields"] == ["email", "title"]
        assert (await viewer.next())["events"]["changedFields"] == ["title"]


async def test_events_of_types_the_subscriber_cannot_read_never_reach_it(api: Api, tenant: Tenant) -> None:
    """`sales` reads accounts but not tickets: ticket events are not delivered, not even their ids."""
    await sign_in(api, tenant, "alice", "admin")
    await sign_in(api, tenant, "sam", "sales")
    document = 'subscription { events(types: ["account.*", "ticket.*"]) { type } }'
    async with subscription(api.url, api.token(tenant, subject="sam", roles=("sales",)), document) as client:
        async with tenant_transaction(tenant.id) as tx:
            await factories.ticket(tx, await factories.account(tx))
        await _create(api, tenant, "After the ticket")
        assert (await client.next())["events"] == {"type": "account.created"}  # the factory's account
        assert (await client.next())["events"] == {"type": "account.created"}
        await client.quiet(0.3)
