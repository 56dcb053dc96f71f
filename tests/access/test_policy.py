"""Policy semantics of a tenant snapshot: Casbin's deny-override across roles, wildcards, the
memoised shortcuts, role resolution, record scopes, explain and the matrix."""

from __future__ import annotations

import uuid

from backend.auth import Principal
from backend.context import Actor, ActorKind
from backend.query.filters import Compare, Nothing, Op, Or, Related
from policies.catalog import Catalog
from policies.enforcer import Effect
from policies.explain import Decision, explain, matrix
from policies.scopes import OWNERSHIP, own_filter, record_filter, team_filter
from schema import schema
from tests.access.support import policy_of

CATALOG = Catalog(schema._schema)
USER = uuid.uuid4()
SUBJECT = f"user:{USER}"


def principal(roles_subject: uuid.UUID = USER, *, kind: ActorKind = ActorKind.USER, team: uuid.UUID | None = None):
    return Principal(uuid.uuid4(), Actor(kind, roles_subject), "sub", team_id=team)


def test_deny_wins_across_roles_and_nothing_is_allowed_by_default() -> None:
    policy = policy_of(
        CATALOG,
        [
            ("sales", "Contact.*", "read", "allow"),
            ("viewer", "Contact.*", "read", "allow"),
            ("viewer", "Contact.email", "read", "deny"),
        ],
    )
    assert policy.allowed(frozenset({"sales"}), "Contact.email", "read")
    assert not policy.allowed(frozenset({"sales", "viewer"}), "Contact.email", "read")
    assert policy.allowed(frozenset({"sales", "viewer"}), "Contact.phone", "read")
    assert not policy.allowed(frozenset({"sales"}), "Contact.email", "update")
    assert not policy.allowed(frozenset(), "Contact.email", "read")
    assert policy.effect("viewer", "Contact.email", "read") is Effect.DENY
    assert policy.effect("viewer", "Contact.phone", "read") is Effect.ALLOW
    assert policy.effect("sales", "Account.name", "read") is Effect.NONE


def test_wildcards_and_type_objects() -> None:
    policy = policy_of(CATALOG, [("admin", "*", "*", "allow"), ("m", "Account.*", "delete", "allow")])
    admin, manager = frozenset({"admin"}), frozenset({"m"})
    assert policy.allowed(admin, "Ticket.subject", "update")
    assert policy.allowed(admin, "Role.*", "manage_policies")
    assert policy.allowed(manager, "Account.*", "delete")
    assert not policy.allowed(manager, "Contact.*", "delete")
    assert not policy.allowed(manager, "Account.*", "merge")


def test_roles_come_from_bindings() -> None:
    policy = policy_of(CATALOG, [("sales", "Account.*", "read", "allow")], bindings=[(SUBJECT, "sales")])
    assert policy.roles_of(SUBJECT) == {"sales"}
    assert policy.roles_of(f"user:{uuid.uuid4()}") == frozenset()


def test_record_scopes_combine_over_the_roles_that_grant_the_action() -> None:
    policy = policy_of(
        CATALOG,
        [
            ("sales", "Account.*", "read", "allow"),
            ("sales", "Account.*", "update", "allow"),
            ("lead", "Account.*", "update", "allow"),
            ("viewer", "Contact.*", "read", "allow"),
        ],
        scopes=[("sales", "Account", "update", "own"), ("lead", "Account", "update", "team")],
        bindings=[(SUBJECT, "sales")],
    )
    assert record_filter(policy, principal(), "Account", "read") is None
    assert record_filter(policy, principal(), "Account", "update") == Compare("owner_id", Op.EQ, USER)
    assert record_filter(policy, principal(), "Account", "delete") == Nothing()
    assert record_filter(policy, principal(), "Ticket", "read") == Nothing()
    assert policy.scope_kinds(frozenset({"sales", "lead"}), "Account", "update") == frozenset({"own", "team"})
    # A role that grants nothing on the type does not lend its (default `all`) scope.
    assert policy.scope_kinds(frozenset({"sales", "viewer"}), "Account", "update") == frozenset({"own"})


def test_scope_filters_follow_the_ownership_paths() -> None:
    team = uuid.uuid4()
    assert own_filter("Account", USER) == Compare("owner_id", Op.EQ, USER)
    assert own_filter("Ticket", USER) == Compare("assignee_id", Op.EQ, USER)
    assert own_filter("Contact", USER) == Related("account", Compare("owner_id", Op.EQ, USER))
    assert own_filter("OrderLine", USER) == Related("order", Related("account", Compare("owner_id", Op.EQ, USER)))
    assert own_filter("User", USER) == Compare("id", Op.EQ, USER)
    assert own_filter("Product", USER) == Nothing()
    assert team_filter("Account", USER, team) == Related("owner", Compare("team_id", Op.EQ, team))
    assert team_filter("Feedback", USER, team) == Related("account", Related("owner", Compare("team_id", Op.EQ, team)))
    assert team_filter("User", USER, team) == Compare("team_id", Op.EQ, team)
    assert team_filter("Account", USER, None) == own_filter("Account", USER)  # no team: a team of one
    assert set(OWNERSHIP) <= set(CATALOG.entities)


def test_scope_filters_for_several_kinds_are_or_ed_and_keys_own_nothing() -> None:
    team = uuid.uuid4()
    key = uuid.uuid4()
    policy = policy_of(
        CATALOG,
        [("a", "Ticket.*", "read", "allow"), ("b", "Ticket.*", "read", "allow")],
        scopes=[("a", "Ticket", "read", "own"), ("b", "Ticket", "read", "team")],
        bindings=[(SUBJECT, "a"), (SUBJECT, "b"), (f"api_key:{key}", "a")],
    )
    assert record_filter(policy, principal(team=team), "Ticket", "read") == Or(
        (Compare("assignee_id", Op.EQ, USER), Related("assignee", Compare("team_id", Op.EQ, team)))
    )
    assert record_filter(policy, principal(key, kind=ActorKind.API_KEY), "Ticket", "read") == Nothing()
    system = Principal(uuid.uuid4(), Actor(ActorKind.JOB, None), "job")
    assert record_filter(policy, system, "Ticket", "read") is None


def test_explain_names_the_rules_and_agrees_with_the_decision() -> None:
    policy = policy_of(
        CATALOG,
        [
            ("sales", "Account.*", "read", "allow"),
            ("auditor", "Account.name", "read", "deny"),
            ("sales", "*", "export", "allow"),
        ],
        bindings=[(SUBJECT, "sales"), (SUBJECT, "auditor")],
        scopes=[("sales", "Account", "read", "own")],
    )
    allowed = explain(policy, SUBJECT, "Account.domain", "read")
    assert allowed.decision is Decision.ALLOWED and allowed.scope == "own"
    assert [(r.role, r.object) for r in allowed.rules] == [("sales", "Account.*")]
    denied = explain(policy, SUBJECT, "Account.name", "read")
    assert denied.decision is Decision.DENIED
    assert "auditor" in denied.reason and len(denied.rules) == 2
    nothing = explain(policy, SUBJECT, "Ticket.subject", "read")
    assert nothing.decision is Decision.NOT_GRANTED and nothing.rules == () and nothing.scope == "none"
    assert "denied by default" in nothing.reason
    for obj, action in [("Account.*", "export"), ("Account.name", "update"), ("Ticket.*", "delete")]:
        found = explain(policy, SUBJECT, obj, action)
        assert found.allowed == policy.allowed(frozenset({"sales", "auditor"}), obj, action)


def test_matrix_covers_every_field_and_type_of_the_schema() -> None:
    policy = policy_of(
        CATALOG,
        [("viewer", "Account.*", "read", "allow"), ("viewer", "Account.name", "read", "deny")],
        scopes=[("viewer", "Account", "read", "team")],
    )
    rows = {row.object: row for row in matrix(policy, "viewer")}
    expected = {f"{t}.{f}" for t, fields in CATALOG.entities.items() for f in fields} | {
        f"{t}.*" for t in CATALOG.entities
    }
    assert set(rows) == expected
    assert dict(rows["Account.name"].cells)["read"] is Effect.DENY
    assert dict(rows["Account.domain"].cells)["read"] is Effect.ALLOW
    assert dict(rows["Account.domain"].cells)["update"] is Effect.NONE
    assert dict(rows["Account.*"].scopes)["read"] == "team"
    assert dict(rows["Contact.*"].cells)["delete"] is Effect.NONE


def test_catalog_validates_rules_against_the_schema() -> None:
    assert CATALOG.check_rule("Account.name", "read") is None
    assert CATALOG.check_rule("Account.*", "delete") is None
    assert CATALOG.check_rule("*", "*") is None
    assert "unknown type" in (CATALOG.check_rule("Acount.name", "read") or "")
    assert "no field" in (CATALOG.check_rule("Account.revenu", "read") or "")
    assert "unknown action" in (CATALOG.check_rule("Account.name", "look") or "")
    assert "whole types" in (CATALOG.check_rule("Account.name", "delete") or "")
    assert "not an object" in (CATALOG.check_rule("account", "read") or "")
