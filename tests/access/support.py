"""Helpers for access control tests: in-memory policies, plans of documents, a small schema
that follows the API's conventions (so the field check can be tested on every construct
without depending on which mutations the real API has today)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import Enum
from typing import Any

import strawberry
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse, validate

from policies.adapter import BindingRow, GrantRow, PolicyRows, RoleRow, ScopeRow
from policies.catalog import Catalog, Requires
from policies.enforcer import TenantPolicy
from policies.field_check import Denial, Plan, check, compile_plan


def policy_of(
    catalog: Catalog,
    grants: Iterable[tuple[str, str, str, str]],
    *,
    bindings: Iterable[tuple[str, str]] = (),
    scopes: Iterable[tuple[str, str, str, str]] = (),
    roles: Iterable[str] = (),
) -> TenantPolicy:
    """A policy snapshot from rules (role, object, action, allow|deny), no database involved."""
    grant_rows = [GrantRow(*g) for g in grants]
    bound = [BindingRow(role, subject) for subject, role in bindings]
    scope_rows = [ScopeRow(*s) for s in scopes]
    names = sorted({*roles, *(g.role for g in grant_rows), *(b.role for b in bound), *(s.role for s in scope_rows)})
    rows = PolicyRows(
        version=1,
        roles=tuple(RoleRow(uuid.uuid4(), name, "") for name in names),
        grants=tuple(grant_rows),
        scopes=tuple(scope_rows),
        bindings=tuple(bound),
    )
    return TenantPolicy(uuid.uuid4(), rows, catalog)


def plan_of(catalog: Catalog, source: str, operation: str | None = None) -> Plan:
    document = parse(source)
    errors = validate(catalog.schema, document)
    assert not errors, errors
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = next(o for o in operations if operation is None or (o.name and o.name.value == operation))
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return compile_plan(catalog, chosen, fragments)


def denied(
    policy: TenantPolicy, roles: Iterable[str], source: str, variables: dict[str, Any] | None = None
) -> set[tuple[str, str, str]]:
    found: tuple[Denial, ...] = check(policy, frozenset(roles), plan_of(policy.catalog, source), variables or {})
    return {(d.path, d.object, d.action) for d in found}


# -- a schema that follows the conventions of HELPERS.md ------------------------------------


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class Money:
    amount: float
    currency: str


@strawberry.type
class User(Node):
    name: str
    email: str


@strawberry.type
class Contact(Node):
    name: str
    email: str | None
    account: Account | None


@strawberry.input
class StringFilter:
    eq: str | None = None
    contains: str | None = None


@strawberry.input
class FloatFilter:
    gt: float | None = None


@strawberry.input
class UserFilter:
    name: StringFilter | None = None
    email: StringFilter | None = None


@strawberry.input
class ContactFilter:
    name: StringFilter | None = None
    email: StringFilter | None = None
    account: AccountFilter | None = None


@strawberry.input
class AccountFilter:
    name: StringFilter | None = None
    revenue: FloatFilter | None = None
    owner: UserFilter | None = None
    contacts: ContactFilter | None = None
    and_: list[AccountFilter] | None = strawberry.field(default=None, name="and")
    or_: list[AccountFilter] | None = strawberry.field(default=None, name="or")
    not_: AccountFilter | None = strawberry.field(default=None, name="not")


@strawberry.enum
class AccountOrderField(Enum):
    NAME = "name"
    REVENUE = "revenue"
    CREATED_AT = "created_at"


@strawberry.input
class AccountOrder:
    field: AccountOrderField | None = None
    custom_field: str | None = None


@strawberry.input
class AccountCreateInput:
    name: str
    revenue: float | None = None
    owner_id: strawberry.ID | None = None


@strawberry.input
class AccountUpdateInput:
    name: str | None = None
    revenue: float | None = None


@strawberry.type
class Account(Node):
    name: str
    revenue: Money | None
    created_at: str
    owner: User | None

    @strawberry.field
    def contacts(self, filter: ContactFilter | None = None) -> list[Contact]:
        return []


@strawberry.type
class Viewer:
    roles: list[str]
    user: User | None


@strawberry.type
class Query:
    @strawberry.field
    def node(self, id: strawberry.ID) -> Node | None:
        return None

    @strawberry.field
    def account(self, id: strawberry.ID) -> Account | None:
        return None

    @strawberry.field
    def accounts(
        self, filter: AccountFilter | None = None, order_by: list[AccountOrder] | None = None
    ) -> list[Account]:
        return []

    @strawberry.field
    def viewer(self) -> Viewer:
        return Viewer(roles=[], user=None)

    @strawberry.field
    def account_count(self) -> int:
        return 0

    @strawberry.field(directives=[Requires(object="Account.*", action="export")])  # type: ignore[untyped-decorator]
    def account_export(self) -> str:
        return ""


@strawberry.type
class Mutation:
    @strawberry.mutation
    def account_create(self, input: AccountCreateInput) -> Account | None:
        return None

    @strawberry.mutation
    def accounts_create(self, inputs: list[AccountCreateInput]) -> list[Account]:
        return []

    @strawberry.mutation
    def account_update(self, id: strawberry.ID, input: AccountUpdateInput) -> Account | None:
        return None

    @strawberry.mutation
    def account_delete(self, id: strawberry.ID) -> strawberry.ID:
        return id

    @strawberry.mutation
    def accounts_merge(self, ids: list[strawberry.ID]) -> strawberry.ID:
        return ids[0]

    @strawberry.mutation
    def account_assign(self, id: strawberry.ID, owner_id: strawberry.ID) -> Account | None:
        return None

    @strawberry.mutation
    def account_touch(self, id: strawberry.ID) -> Account | None:
        return None

    @strawberry.mutation
    def reindex(self) -> bool:
        return True

    @strawberry.mutation(directives=[Requires(object="Account.*", action="merge")])  # type: ignore[untyped-decorator]
    def account_combine(self, input: AccountUpdateInput, filter: AccountFilter | None = None) -> bool:
        return True


CONVENTIONS = strawberry.Schema(query=Query, mutation=Mutation, types=[Contact, User])
