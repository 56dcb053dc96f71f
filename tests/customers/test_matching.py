"""Duplicate detection per rule, its settings, and tenant isolation (service level)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.context import TenantContext
from backend.customers import matching
from backend.customers.matching import Group, MatchRules, Rule
from backend.db import tenant_transaction
from backend.errors import BadInput
from backend.models import Tenant
from tenants.provisioning import provision_tenant
from tests import factories


def _rules(group: Group) -> set[tuple[Rule, Any]]:
    return {(r.rule, r.value) for link in group.links for r in link.reasons}


async def _set(tx: TenantContext, **changes: Any) -> None:
    await matching.update_rules(tx, changes)


async def test_default_rules_and_round_trip(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        assert await matching.get_rules(tx) == MatchRules()
        rules = await matching.update_rules(
            tx, {"rejectDuplicates": True, "account": {"nameThreshold": 0.8, "emailDomain": False}}
        )
    async with tenant_transaction(tenant.id) as tx:
        assert await matching.get_rules(tx) == rules
    assert rules.reject_duplicates and rules.account.name_threshold == 0.8 and not rules.account.email_domain
    assert rules.account.same_domain and rules.contact == MatchRules().contact


async def test_invalid_settings_are_reported_with_paths(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        with pytest.raises(BadInput) as caught:
            await matching.update_rules(
                tx,
                {"rejectDuplicates": "yes", "account": {"nameThreshold": 0.01, "nope": 1}, "contact": 3},
            )
        assert await matching.get_rules(tx) == MatchRules()
    assert sorted(e.field for e in caught.value.errors) == [
        "input.account.nameThreshold",
        "input.account.nope",
        "input.contact",
        "input.rejectDuplicates",
    ]


async def test_accounts_same_domain_email_domain_and_similar_name(tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant_transaction(other_tenant.id) as tx:
        # Look-alikes in another tenant must never show up.
        await factories.account(tx, name="Acme Corporation", domain="acme.com")
        await factories.account(tx, name="Globex", domain="globex.com")
    async with tenant_transaction(tenant.id) as tx:
        acme = await factories.account(tx, name="Acme Corporation", domain="acme.com")
        acme_web = await factories.account(tx, name="Totally Different Ltd", domain="acme.com")
        acme_typo = await factories.account(tx, name="ACMEE, Inc.")
        await factories.account(tx, name="Apex Corporation")
        globex = await factories.account(tx, name="Globex", domain="globex.com")
        initech = await factories.account(tx, name="Initech")
        await factories.contact(tx, initech, email="peter@GLOBEX.com")
        await factories.contact(tx, initech, email="someone@gmail.com")
        await factories.account(tx, name="Webmail One", domain="gmail.com")
        await factories.account(tx, name="Unrelated Bakery")
        groups = await matching.duplicate_groups(tx, "Account")

    assert [g.members for g in groups] == [
        tuple(sorted([acme.id, acme_web.id, acme_typo.id])),
        tuple(sorted([globex.id, initech.id])),
    ]
    assert _rules(groups[0]) == {(Rule.SAME_DOMAIN, "acme.com"), (Rule.SIMILAR_NAME, None)}
    similar = next(r for link in groups[0].links for r in link.reasons if r.rule is Rule.SIMILAR_NAME)
    assert similar.similarity is not None and 0.5 <= similar.similarity < 1
    assert _rules(groups[1]) == {(Rule.EMAIL_DOMAIN, "globex.com")}


async def test_rules_can_be_switched_off_and_thresholds_matter(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        await factories.account(tx, name="Acme Corporation", domain="acme.com")
        await factories.account(tx, name="Acmee Corp", domain="acme.com")
        assert len(await matching.duplicate_groups(tx, "Account")) == 1
        await _set(tx, account={"sameDomain": False})
        groups = await matching.duplicate_groups(tx, "Account")
        assert [_rules(g) for g in groups] == [{(Rule.SIMILAR_NAME, None)}]
        await _set(tx, account={"nameThreshold": 0.8})
        assert await matching.duplicate_groups(tx, "Account") == []
        # The threshold is set for the detection only, not for the rest of the transaction.
        assert await tx.fetchval("SELECT current_setting('pg_trgm.similarity_threshold')") == "0.3"


async def test_contacts_same_email_phone_and_similar_name_within_account(tenant: Tenant, other_tenant: Tenant) -> None:
    async with tenant_transaction(other_tenant.id) as tx:
        await factories.contact(tx, last_name="Smith", email="jane@acme.com", phone="+14155550100")
    async with tenant_transaction(tenant.id) as tx:
        acme = await factories.account(tx, name="Acme")
        other = await factories.account(tx, name="Other")
        jane = await factories.contact(tx, acme, first_name="Jane", last_name="Smith", email="jane@acme.com")
        jane_caps = await factories.contact(tx, None, first_name="J", last_name="S", email="Jane@ACME.com")
        bob = await factories.contact(tx, other, first_name="Bob", last_name="Jones", phone="+14155550100")
        bob_phone = await factories.contact(tx, None, first_name="Robert", last_name="J", phone="+14155550100")
        john = await factories.contact(tx, acme, first_name="Jonathan", last_name="Miller")
        jon = await factories.contact(tx, acme, first_name="Jonathon", last_name="Miller")
        # Same name at another company: not a duplicate.
        await factories.contact(tx, other, first_name="Jonathan", last_name="Miller")
        groups = await matching.duplicate_groups(tx, "Contact")
    by_members = {g.members: _rules(g) for g in groups}
    assert by_members == {
        tuple(sorted([jane.id, jane_caps.id])): {(Rule.SAME_EMAIL, "jane@acme.com")},
        tuple(sorted([bob.id, bob_phone.id])): {(Rule.SAME_PHONE, "+14155550100")},
        tuple(sorted([john.id, jon.id])): {(Rule.SIMILAR_NAME, None)},
    }
    assert [g.members[0] for g in groups] == sorted(g.members[0] for g in groups)


async def test_groups_join_transitively(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        a = await factories.contact(tx, email="a@x.com")
        b = await factories.contact(tx, email="a@x.com", phone="+14155550111")
        c = await factories.contact(tx, email="c@x.com", phone="+14155550111")
        groups = await matching.duplicate_groups(tx, "Contact")
    assert len(groups) == 1
    assert groups[0].members == tuple(sorted([a.id, b.id, c.id]))
    assert {(link.a, link.b) for link in groups[0].links} == {
        tuple(sorted([a.id, b.id])),
        tuple(sorted([b.id, c.id])),
    }


async def test_matches_for_stored_rows(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        old = await factories.account(tx, name="Initech", domain="initech.com")
        new = await factories.account(tx, name="Initech", domain="initech.com")
        lone = await factories.account(tx, name="Zyx")
        rows = await tx.fetch("SELECT * FROM accounts WHERE id = ANY($1) ORDER BY id", [new.id, lone.id])
        found = await matching.matches_for(tx, "Account", rows)
    assert [[m.id for m in ms] for ms in found] == [[old.id], []]
    assert [r.rule for r in found[0][0].reasons] == [Rule.SAME_DOMAIN, Rule.SIMILAR_NAME]


_WORDS = ["acme", "acmee", "globex", "global", "initech", "systems", "labs", "north", "nord", "star", "stark"]
_FORMS = ["", " Inc", " GmbH", " Corp.", " Group"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(
        st.tuples(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3), st.sampled_from(_FORMS)),
        min_size=2,
        max_size=25,
    ),
    threshold=st.sampled_from([0.3, 0.5, 0.6, 0.8]),
    probed=st.integers(1, 12),  # both sides of FEW_PROBES
)
async def test_similar_names_match_a_comparison_of_every_pair(
    app_db: None, names: list[tuple[list[str], str]], threshold: float, probed: int
) -> None:
    """The prefix-filtered trigram join finds exactly the pairs a brute-force similarity finds."""
    tenant = await provision_tenant(f"Names {uuid.uuid4().hex[:8]}")
    async with tenant_transaction(tenant.id) as tx:
        for words, form in names:
            await factories.account(tx, name=" ".join(words).title() + form)
        await matching.update_rules(
            tx, {"account": {"sameDomain": False, "emailDomain": False, "nameThreshold": threshold}}
        )
        expected = {
            (r["a"], r["b"])
            for r in await tx.fetch(
                "SELECT a.id AS a, b.id AS b FROM accounts a JOIN accounts b ON b.id > a.id "
                "WHERE company_name_key(a.name) <> '' AND company_name_key(b.name) <> '' "
                "AND similarity(company_name_key(a.name), company_name_key(b.name)) >= $1",
                threshold,
            )
        }
        groups = await matching.duplicate_groups(tx, "Account")
        rows = await tx.fetch("SELECT * FROM accounts ORDER BY id LIMIT $1", probed)
        found = await matching.matches_for(tx, "Account", rows)
    assert {(link.a, link.b) for g in groups for link in g.links} == expected
    for row, matches in zip(rows, found, strict=True):
        assert {m.id for m in matches} == {b if a == row["id"] else a for a, b in expected if row["id"] in (a, b)}
