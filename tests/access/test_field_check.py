"""The static field check on every construct that can touch a field (conventions schema)."""

from __future__ import annotations

import pytest

from policies.catalog import Catalog
from policies.field_check import check
from tests.access.support import CONVENTIONS, denied, plan_of, policy_of

CATALOG = Catalog(CONVENTIONS._schema)
POLICY = policy_of(
    CATALOG,
    [
        ("reader", "Account.*", "read", "allow"),
        ("reader", "Contact.*", "read", "allow"),
        ("reader", "User.*", "read", "allow"),
        ("reader", "Account.revenue", "read", "deny"),
        ("reader", "Contact.email", "read", "deny"),
        ("writer", "Account.*", "create", "allow"),
        ("writer", "Account.*", "update", "allow"),
        ("writer", "Account.revenue", "update", "deny"),
        ("remover", "Account.*", "delete", "allow"),
        ("admin", "*", "*", "allow"),
    ],
    roles=["nobody"],
)
READER = {"reader"}
REVENUE = ("Account.revenue", "read")


def objects(found: set[tuple[str, str, str]]) -> set[tuple[str, str]]:
    return {(obj, action) for _, obj, action in found}


def test_allowed_selection_passes_and_typename_is_always_allowed() -> None:
    assert denied(POLICY, READER, "{ accounts { __typename id name owner { name email } } }") == set()
    assert denied(POLICY, {"nobody"}, "{ __typename }") == set()
    assert denied(POLICY, {"nobody"}, "{ accounts { __typename } }") == set()


def test_a_denied_field_is_reported_with_its_path() -> None:
    found = denied(POLICY, READER, "{ accounts { name revenue { amount } } }")
    assert found == {("accounts.revenue", "Account.revenue", "read")}


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ("{ accounts { money: revenue { amount } } }", "accounts.money"),
        ("{ accounts { ...F } } fragment F on Account { revenue { amount } }", "accounts.revenue"),
        ("{ accounts { ... on Account { revenue { currency } } } }", "accounts.revenue"),
        ("{ accounts { ... { revenue { currency } } } }", "accounts.revenue"),
        ("{ account(id: 1) { ...A } } fragment A on Account { ...B } fragment B on Account { revenue { amount } }",
         "account.revenue"),
        ("{ node(id: 1) { ... on Account { revenue { amount } } } }", "node.revenue"),
        ("{ accounts { contacts { account { revenue { amount } } } } }", "accounts.contacts.account.revenue"),
        ("{ viewer { user { name } } accounts { r: revenue @include(if: false) { amount } } }", "accounts.r"),
    ],
)  # fmt: skip
def test_fields_are_found_through_aliases_fragments_and_nesting(document: str, path: str) -> None:
    assert denied(POLICY, READER, document) == {(path, *REVENUE)}


def test_denied_fields_in_filters_are_refused_literal_or_variable() -> None:
    literal = "{ accounts(filter: {revenue: {gt: 1}}) { name } }"
    assert denied(POLICY, READER, literal) == {("accounts(filter).revenue", *REVENUE)}
    nested = '{ accounts(filter: {and: [{name: {eq: "x"}}, {not: {contacts: {email: {eq: "a@b"}}}}]}) { name } }'
    assert objects(denied(POLICY, READER, nested)) == {("Contact.email", "read")}
    query = "query ($f: AccountFilter) { accounts(filter: $f) { name } }"
    assert denied(POLICY, READER, query, {"f": {"name": {"eq": "x"}}}) == set()
    assert denied(POLICY, READER, query, {"f": {"or": [{"name": {"eq": "x"}}, {"revenue": {"gt": 2}}]}}) == {
        ("accounts(filter).or.revenue", *REVENUE)
    }
    inner = 'query ($r: FloatFilter) { accounts(filter: {revenue: $r, name: {eq: "x"}}) { name } }'
    assert objects(denied(POLICY, READER, inner, {"r": None})) == {REVENUE}  # naming the field is enough


def test_default_values_of_variables_are_checked() -> None:
    query = "query ($f: AccountFilter = {revenue: {gt: 1}}) { accounts(filter: $f) { name } }"
    assert objects(denied(POLICY, READER, query)) == {REVENUE}
    assert denied(POLICY, READER, query, {"f": {"name": {"eq": "x"}}}) == set()


def test_sorting_by_a_denied_field_is_refused() -> None:
    assert denied(POLICY, READER, "{ accounts(orderBy: [{field: NAME}]) { name } }") == set()
    assert denied(POLICY, READER, "{ accounts(orderBy: {field: REVENUE}) { name } }") == {
        ("accounts(orderBy).field", *REVENUE)
    }
    by_variable = "query ($o: [AccountOrder!], $f: AccountOrderField) { a: accounts(orderBy: $o) { name } " \
        "b: accounts(orderBy: [{field: $f}]) { name } }"  # fmt: skip
    assert objects(denied(POLICY, READER, by_variable, {"o": [{"field": "NAME"}], "f": "REVENUE"})) == {REVENUE}
    assert objects(denied(POLICY, READER, by_variable, {"o": {"field": "REVENUE"}})) == {REVENUE}
    custom = denied(POLICY, {"remover"}, '{ accounts(orderBy: [{customField: "tier"}]) { __typename } }')
    assert objects(custom) == {("Account.customFields", "read")}


def test_inputs_are_checked_field_by_field_with_the_mutations_action() -> None:
    create = 'mutation { accountCreate(input: {name: "A"}) { __typename } }'
    assert denied(POLICY, {"writer"}, create) == set()
    assert denied(POLICY, READER, create) == {("accountCreate(input).name", "Account.name", "create")}
    update = "mutation ($i: AccountUpdateInput!) { accountUpdate(id: 1, input: $i) { name } }"
    assert denied(POLICY, {"writer", "reader"}, update, {"i": {"name": "B"}}) == set()
    assert denied(POLICY, {"writer", "reader"}, update, {"i": {"revenue": 3}}) == {
        ("accountUpdate(input).revenue", "Account.revenue", "update")
    }
    batch = "mutation ($i: [AccountCreateInput!]!) { accountsCreate(inputs: $i) { __typename } }"
    found = denied(POLICY, {"reader"}, batch, {"i": [{"name": "x"}, {"name": "y", "ownerId": "1"}]})
    assert objects(found) == {("Account.name", "create"), ("Account.owner", "create")}  # ownerId is `owner`


def test_the_payload_of_a_mutation_is_read_checked() -> None:
    found = denied(POLICY, {"writer"}, 'mutation { accountCreate(input: {name: "A"}) { name } }')
    assert found == {("accountCreate.name", "Account.name", "read")}


def test_mutation_conventions_type_actions_and_undeclared_mutations() -> None:
    assert denied(POLICY, {"remover"}, "mutation { accountDelete(id: 1) }") == set()
    assert denied(POLICY, READER, "mutation { accountDelete(id: 1) }") == {("accountDelete", "Account.*", "delete")}
    assert objects(denied(POLICY, {"remover"}, "mutation { accountsMerge(ids: [1]) }")) == {("Account.*", "merge")}
    assert objects(denied(POLICY, {"writer"}, "mutation { accountAssign(id: 1, ownerId: 2) { __typename } }")) == set()
    assert objects(denied(POLICY, READER, "mutation { accountAssign(id: 1, ownerId: 2) { __typename } }")) == {
        ("Account.owner", "update")
    }
    assert objects(denied(POLICY, READER, "mutation { accountTouch(id: 1) { __typename } }")) == {
        ("Account.*", "update")
    }
    assert objects(denied(POLICY, {"writer"}, "mutation { reindex }")) == {("Mutation.reindex", "update")}
    assert denied(POLICY, {"admin"}, "mutation { reindex }") == set()


def test_a_declared_requirement_replaces_the_input_convention_but_reads_are_still_checked() -> None:
    merger = policy_of(
        CATALOG,
        [
            ("m", "Account.*", "merge", "allow"),
            ("m", "Account.*", "read", "allow"),
            ("m", "Account.revenue", "read", "deny"),
        ],
    )
    assert denied(merger, {"m"}, "mutation { accountCombine(input: {revenue: 1}) }") == set()
    found = denied(merger, {"m"}, "mutation ($f: AccountFilter) { accountCombine(input: {name: \"x\"}, filter: $f) }",
                   {"f": {"revenue": {"gt": 1}}})  # fmt: skip
    assert found == {("accountCombine(filter).revenue", *REVENUE)}
    assert objects(denied(merger, set(), "mutation { accountCombine(input: {}) }")) == {("Account.*", "merge")}


def test_declared_requirements_and_leaf_root_fields() -> None:
    assert objects(denied(POLICY, READER, "{ accountExport }")) == {("Account.*", "export")}
    assert objects(denied(POLICY, READER, "{ accountCount }")) == {("Query.accountCount", "read")}
    assert denied(POLICY, {"admin"}, "{ accountExport accountCount }") == set()


def test_interface_fields_are_checked_on_every_type_the_caller_can_read() -> None:
    policy = policy_of(
        CATALOG,
        [
            ("sales", "Account.*", "read", "allow"),
            ("partial", "Account.name", "read", "allow"),
            ("partial", "User.*", "read", "allow"),
        ],
        roles=["nobody"],
    )
    # Sales reads no Contact or User at all: those rows are invisible to it, `id` is fine.
    assert denied(policy, {"sales"}, "{ node(id: 1) { id } }") == set()
    # Partial reads Account (its name) but not Account.id: refused for that type only.
    assert denied(policy, {"partial"}, "{ node(id: 1) { id } }") == {("node.id", "Account.id", "read")}
    assert denied(policy, {"partial"}, "{ node(id: 1) { ... on User { id } } }") == set()
    # Nobody reads anything: refused on every type that could answer.
    assert objects(denied(policy, {"nobody"}, "{ node(id: 1) { id } }")) == {
        ("Account.id", "read"),
        ("Contact.id", "read"),
        ("User.id", "read"),
    }


def test_non_entity_types_are_covered_by_the_field_that_leads_to_them() -> None:
    policy = policy_of(CATALOG, [("r", "Account.name", "read", "allow")])
    assert denied(policy, {"r"}, "{ viewer { roles } accounts { name } }") == set()
    assert objects(denied(policy, {"r"}, "{ viewer { user { name } } }")) == {("User.name", "read")}


def test_no_roles_no_fields() -> None:
    assert objects(denied(POLICY, set(), "{ accounts { name } }")) == {("Account.name", "read")}


def test_static_decisions_are_memoised_per_plan_and_roles() -> None:
    policy = policy_of(CATALOG, [("reader", "Account.*", "read", "allow")])
    plan = plan_of(CATALOG, "query ($f: AccountFilter) { accounts(filter: $f) { name } }")
    roles = frozenset({"reader"})
    assert check(policy, roles, plan, {}) == ()
    assert (plan, roles) in policy.decisions
    # The variables' part is still checked on every request.
    assert [d.object for d in check(policy, roles, plan, {"f": {"owner": {"name": {"eq": "x"}}}})] == ["User.name"]
