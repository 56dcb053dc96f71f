"""Access control for one process: tenant policies kept current, the field check hook, record
scopes, and the roles authentication asks for.

Each tenant's policy is loaded on first use into an immutable snapshot (`TenantPolicy`) and
kept until a notification on `rapport_access` says it changed ('policy:<tenant>', sent by the
database on every policy write); then the next request loads the new version. While the
listener is disconnected, snapshots are trusted for at most a second (backend/listener.py).
So every API and worker process sees a change within a second of its commit.

A tenant whose policy was never initialised (created before access control existed) gets the
default roles when its policy is first loaded.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Collection, Mapping
from typing import Any, Protocol
from uuid import UUID

from graphql import FragmentDefinitionNode, OperationDefinitionNode

from backend.auth import Principal
from backend.context import TenantContext
from backend.db import tenant_transaction
from backend.errors import Forbidden
from backend.listener import ACCESS_CHANNEL, Listener
from policies import admin, defaults, field_check, scopes
from policies.adapter import load_rows
from policies.catalog import Catalog
from policies.enforcer import TenantPolicy

_TENANTS_CACHED = 1000
# Mutations of these types (or of unknown ones) may change the policy.
_ACCESS_TYPES = frozenset({"Role", "ApiKey", "Team", "User", "*"})
_SHOWN = 10


def readable_names(policy: TenantPolicy, roles: frozenset[str], entity: str, names: Collection[str]) -> frozenset[str]:
    """Which of `names` (an event's data keys or changed fields: GraphQL field or input names
    such as `accountId`) `roles` may read on `entity`. Keys that name no field of the type are
    never readable."""
    catalog = policy.catalog
    fields = catalog.fields(entity)
    return frozenset(
        name
        for name in names
        if (field := catalog.input_field(entity, name)) in fields and policy.allowed(roles, f"{entity}.{field}", "read")
    )


class Prepared(Protocol):
    """What the field check needs of a cached, validated document (schema.documents)."""

    fragments: dict[str, FragmentDefinitionNode]
    memo: dict[Any, Any]


class AccessControl:
    def __init__(self, catalog: Catalog, listener: Listener) -> None:
        self.catalog = catalog
        self._listener = listener
        self._policies: OrderedDict[UUID, TenantPolicy] = OrderedDict()
        self._loading: dict[UUID, asyncio.Future[TenantPolicy]] = {}
        self._generation = 0  # bumped by every invalidation: a load racing one is not kept
        listener.subscribe(ACCESS_CHANNEL, self._on_notification)
        listener.on_reset(self._forget_all)

    async def policy(self, tenant_id: UUID) -> TenantPolicy:
        """The tenant's current policy snapshot."""
        cached = self._policies.get(tenant_id)
        if cached is not None and time.monotonic() - cached.loaded_at <= self._listener.max_age(float("inf")):
            self._policies.move_to_end(tenant_id)
            return cached
        loading = self._loading.get(tenant_id)
        if loading is None:
            loading = self._loading[tenant_id] = asyncio.ensure_future(self._load(tenant_id))
            loading.add_done_callback(lambda _: self._loading.pop(tenant_id, None))
        # Shielded: one caller giving up must not cancel the load the others wait for.
        return await asyncio.shield(loading)

    async def _load(self, tenant_id: UUID) -> TenantPolicy:
        generation = self._generation
        async with tenant_transaction(tenant_id, readonly=True) as tx:
            rows = await load_rows(tx)
        if rows.version == 0:
            async with tenant_transaction(tenant_id) as tx:
                await defaults.ensure(tx)
                rows = await load_rows(tx)
        policy = TenantPolicy(tenant_id, rows, self.catalog)
        if generation == self._generation:
            self._policies[tenant_id] = policy
            if len(self._policies) > _TENANTS_CACHED:
                self._policies.popitem(last=False)
        return policy

    def _on_notification(self, payload: str) -> None:
        kind, _, tenant = payload.partition(":")
        if kind == "policy":
            self.forget(UUID(tenant))

    def _forget_all(self) -> None:
        self._generation += 1
        self._policies.clear()

    # -- authentication's role directory ----------------------------------------------------

    async def roles_of(self, tenant_id: UUID, subject: str) -> frozenset[str]:
        return (await self.policy(tenant_id)).roles_of(subject)

    async def seed_roles(self, tx: TenantContext, user_id: UUID, roles: frozenset[str]) -> bool:
        return await admin.seed_user_roles(tx, user_id, roles)

    def forget(self, tenant_id: UUID) -> None:
        self._generation += 1
        self._policies.pop(tenant_id, None)

    @property
    def generation(self) -> int:
        """Changes whenever some tenant's policy may have changed: holders of long-lived
        decisions (live subscriptions) check them again then."""
        return self._generation

    # -- webhook bodies ---------------------------------------------------------------------

    async def readable(self, tenant_id: UUID, subject: str, entity: str, names: Collection[str]) -> frozenset[str]:
        """Which of `names` (an event's data keys: GraphQL field or input names such as
        `accountId`) the subject's roles may read on `entity`, under the current policy.
        Keys that name no field of the type are never readable."""
        policy = await self.policy(tenant_id)
        return readable_names(policy, policy.roles_of(subject), entity, names)

    # -- the field check --------------------------------------------------------------------

    def _plan(self, prepared: Prepared, operation: OperationDefinitionNode) -> field_check.Plan:
        key = ("access-plan", operation.name.value if operation.name else None)
        plan: field_check.Plan | None = prepared.memo.get(key)
        if plan is None:
            plan = prepared.memo[key] = field_check.compile_plan(self.catalog, operation, prepared.fragments)
        return plan

    async def check(
        self,
        principal: Principal,
        prepared: Prepared,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> TenantPolicy:
        """Refuse the operation (FORBIDDEN, with every denied path) if it selects, sets, filters
        or sorts by anything the principal may not; runs before any SQL of the operation.
        Returns the policy snapshot the decision was made with."""
        policy = await self.policy(principal.tenant_id)
        plan = self._plan(prepared, operation)
        denied = field_check.check(policy, admin.actor_roles(principal.actor, policy), plan, variables)
        if denied:
            shown = ", ".join(f"{d.path} ({d.action} {d.object})" for d in denied[:_SHOWN])
            more = f" and {len(denied) - _SHOWN} more" if len(denied) > _SHOWN else ""
            raise Forbidden(f"not allowed: {shown}{more}", denied=[d.as_dict() for d in denied])
        return policy

    async def before_commit(self, tx: TenantContext, prepared: Prepared, operation: OperationDefinitionNode) -> None:
        """A mutation's last word: refuse (CONFLICT) to commit when it deactivated or deleted the
        last active user able to manage access policies, whichever service did it. Policy
        changes check this themselves (policies/admin.py); users are the other way to lose it."""
        if self.checks_before_commit(prepared, operation) and await tx.fetchval(
            "SELECT current_setting('app.users_changed', true) = 'on'"
        ):
            await admin.check_not_locked_out(tx, self.catalog)

    def checks_before_commit(self, prepared: Prepared, operation: OperationDefinitionNode) -> bool:
        """Whether `before_commit` may have something to check for this operation."""
        return bool(self._plan(prepared, operation).mutates & {"User", "*"})

    def after_commit(self, tenant_id: UUID, prepared: Prepared, operation: OperationDefinitionNode) -> None:
        """After a mutation of roles, keys, teams or users committed: drop this process's copy of
        the tenant's policy now, so the caller's next request reads its own change (other
        processes hear it from NOTIFY)."""
        if self._plan(prepared, operation).mutates & _ACCESS_TYPES:
            self.forget(tenant_id)

    # -- record scopes ----------------------------------------------------------------------

    @staticmethod
    def scope(policy: TenantPolicy, principal: Principal, action: str, *, bound: bool = False) -> scopes.RecordScope:
        return scopes.scope_for(policy, principal, action, bound=bound)
