"""Policy storage: one tenant's policy rows from Postgres, and the Casbin adapter over them.

The rows live in access_roles / access_grants / access_scopes / access_bindings (migration
0012) and are read in a tenant transaction, asynchronously, before Casbin sees them; the
adapter then turns them into Casbin lines for the tenant's domain:

    p, <role>, <tenant>, <object>, <action>, allow|deny
    g, user:<id> | api_key:<id>, <role>, <tenant>

Writes do not go through Casbin: the admin services (policies/admin.py) change rows in the
admin's transaction, and every process reloads the tenant after the commit's NOTIFY. That
keeps a policy change atomic with its validation, its audit entry and the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from casbin.model import Model
from casbin.persist.adapter import Adapter

from backend.context import TenantContext


@dataclass(frozen=True, slots=True)
class RoleRow:
    id: UUID
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class GrantRow:
    role: str
    object: str
    action: str
    effect: str  # allow | deny


@dataclass(frozen=True, slots=True)
class ScopeRow:
    role: str
    entity: str
    action: str
    scope: str  # all | own | team


@dataclass(frozen=True, slots=True)
class BindingRow:
    role: str
    subject: str  # user:<id> | api_key:<id>


@dataclass(frozen=True, slots=True)
class PolicyRows:
    version: int  # tenants.policy_version; 0: never initialised, -1: no such tenant
    roles: tuple[RoleRow, ...]
    grants: tuple[GrantRow, ...]
    scopes: tuple[ScopeRow, ...]
    bindings: tuple[BindingRow, ...]


async def load_rows(tx: TenantContext, *, for_update: bool = False) -> PolicyRows:
    """The tenant's policy as of this transaction; `for_update` locks the tenant's policy
    (its tenants row) so that concurrent policy changes of one tenant run one after another."""
    version = await tx.fetchval(
        "SELECT policy_version FROM tenants WHERE id = $1" + (" FOR UPDATE" if for_update else ""), tx.tenant_id
    )
    if version is None:
        return PolicyRows(-1, (), (), (), ())
    roles = await tx.fetch(
        "SELECT id, name, description FROM access_roles WHERE tenant_id = $1 ORDER BY name", tx.tenant_id
    )
    grants = await tx.fetch(
        "SELECT r.name, g.object, g.action, g.effect FROM access_grants g "
        "JOIN access_roles r ON r.tenant_id = g.tenant_id AND r.id = g.role_id "
        "WHERE g.tenant_id = $1 ORDER BY r.name, g.object, g.action",
        tx.tenant_id,
    )
    scopes = await tx.fetch(
        "SELECT r.name, s.entity, s.action, s.scope FROM access_scopes s "
        "JOIN access_roles r ON r.tenant_id = s.tenant_id AND r.id = s.role_id "
        "WHERE s.tenant_id = $1 ORDER BY r.name, s.entity, s.action",
        tx.tenant_id,
    )
    bindings = await tx.fetch(
        "SELECT r.name, coalesce('user:' || b.user_id, 'api_key:' || b.api_key_id) AS subject "
        "FROM access_bindings b JOIN access_roles r ON r.tenant_id = b.tenant_id AND r.id = b.role_id "
        "WHERE b.tenant_id = $1 ORDER BY 2, 1",
        tx.tenant_id,
    )
    return PolicyRows(
        version=version,
        roles=tuple(RoleRow(r["id"], r["name"], r["description"]) for r in roles),
        grants=tuple(GrantRow(*g) for g in grants),
        scopes=tuple(ScopeRow(*s) for s in scopes),
        bindings=tuple(BindingRow(*b) for b in bindings),
    )


class TenantAdapter(Adapter):  # type: ignore[misc]  # casbin is untyped
    """Feeds one tenant's rows to Casbin as a filtered policy (filter: the tenant's domain).

    Filtered because the table holds every tenant's domain and an enforcer only ever holds
    one: Casbin then refuses to save the whole policy through it (see the module docstring
    for how changes are written)."""

    def __init__(self, rows: PolicyRows, domain: str) -> None:
        self._rows = rows
        self._domain = domain

    def load_filtered_policy(self, model: Model, domain: str) -> None:
        if domain != self._domain:
            raise ValueError(f"this adapter holds the policy of {self._domain}, not {domain}")
        for grant in self._rows.grants:
            model.add_policy("p", "p", [grant.role, self._domain, grant.object, grant.action, grant.effect])
        for binding in self._rows.bindings:
            model.add_policy("g", "g", [binding.subject, binding.role, self._domain])

    def is_filtered(self) -> bool:
        return True
