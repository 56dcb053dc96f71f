"""One tenant's policy at one version: a Casbin enforcer plus the memos that make it cheap.

Casbin (pycasbin) evaluates its matcher rule by rule in Python, some 20 µs a rule, so every
decision is memoised, at three levels, all dropped with the snapshot when the policy changes:

* per role: the effect (allow / deny / none) of one role's rules on (object, action). The
  enforcer indexes rules by (role, domain), so a role's evaluation scans only its own rules;
  and since rules name objects only as `*`, `Type.*` or `Type.field`, every field of a type
  that no rule of the role names literally gets the same decision, which is computed once
  (under the stand-in object `Type.?`);
* per role set: allowed when some role allows and none denies (Casbin's deny-override
  effect over the union of the roles' rules);
* per (operation plan, role set): the field check's answer (policies/field_check.py).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from enum import IntEnum
from pathlib import Path
from typing import Any
from uuid import UUID

import casbin
from casbin.model import FastModel, fast_policy_filter

from policies.adapter import PolicyRows, RoleRow, TenantAdapter
from policies.catalog import TYPE_ACTIONS, WILDCARD, Catalog

MODEL_TEXT = (Path(__file__).parent / "model.conf").read_text()
_OTHER_FIELD = "?"  # stands for any field no rule of a role names (never a real field name)
_DECISIONS = 4096
# Casbin logs every denied request at WARNING through this logger; decisions are ours to report.
logging.getLogger("casbin").setLevel(logging.ERROR)


class Effect(IntEnum):
    NONE = 0
    ALLOW = 1
    DENY = 2


def _model() -> FastModel:
    model = FastModel([0, 1])  # index `p` rules by (role, domain)
    model.load_model_from_text(MODEL_TEXT)
    return model


class TenantPolicy:
    def __init__(self, tenant_id: UUID, rows: PolicyRows, catalog: Catalog) -> None:
        self.tenant_id = tenant_id
        self.domain = str(tenant_id)
        self.version = rows.version
        self.rows = rows
        self.catalog = catalog
        self.loaded_at = time.monotonic()
        self.roles: dict[str, RoleRow] = {r.name: r for r in rows.roles}
        self.enforcer = casbin.FastEnforcer(_model(), TenantAdapter(rows, self.domain), cache_key_order=[0, 1])
        self.enforcer.load_filtered_policy(self.domain)
        self._policy = self.enforcer.model.model["p"]["p"].policy
        self._named: dict[str, set[str]] = {}
        for grant in rows.grants:
            if grant.object != WILDCARD and not grant.object.endswith(".*"):
                self._named.setdefault(grant.role, set()).add(grant.object)
        self._scopes = {(s.role, s.entity, s.action): s.scope for s in rows.scopes}
        self._subjects: dict[str, frozenset[str]] = {}
        self._effects: dict[tuple[str, str, str], Effect] = {}
        self._allowed: dict[tuple[frozenset[str], str, str], bool] = {}
        self._reach: dict[tuple[frozenset[str], str, str], bool] = {}
        self._kinds: dict[tuple[frozenset[str], str, str], frozenset[str] | None] = {}
        self.decisions: OrderedDict[tuple[Any, frozenset[str]], Any] = OrderedDict()
        # Record filters per (principal, action), filled by policies.scopes.
        self.scope_filters: OrderedDict[Any, Any] = OrderedDict()

    def roles_of(self, subject: str) -> frozenset[str]:
        """The roles bound to `user:<id>` or `api_key:<id>` (Casbin `g` in this domain)."""
        roles = self._subjects.get(subject)
        if roles is None:
            found = self.enforcer.get_roles_for_user_in_domain(subject, self.domain)
            roles = frozenset(role for role in found if role in self.roles)
            self._subjects[subject] = roles
        return roles

    def effect(self, role: str, obj: str, action: str) -> Effect:
        """What one role's rules say about (object, action)."""
        if obj != WILDCARD and not obj.endswith(".*") and obj not in self._named.get(role, ()):
            obj = obj.partition(".")[0] + "." + _OTHER_FIELD
        key = (role, obj, action)
        found = self._effects.get(key)
        if found is None:
            with fast_policy_filter(self._policy, role, self.domain):
                allowed, rule = self.enforcer.enforce_ex(role, self.domain, obj, action)
            found = Effect.ALLOW if allowed else Effect.DENY if rule and rule[-1] == "deny" else Effect.NONE
            self._effects[key] = found
        return found

    def allowed(self, roles: frozenset[str], obj: str, action: str) -> bool:
        key = (roles, obj, action)
        found = self._allowed.get(key)
        if found is None:
            effects = {self.effect(role, obj, action) for role in roles}
            found = Effect.ALLOW in effects and Effect.DENY not in effects
            self._allowed[key] = found
        return found

    def reaches(self, roles: frozenset[str], type_name: str, action: str) -> bool:
        """Whether the roles may do `action` on anything of the type (a type action on `Type.*`,
        a field action on at least one field)."""
        key = (roles, type_name, action)
        found = self._reach.get(key)
        if found is None:
            found = any(self.allowed(roles, obj, action) for obj in self._objects(type_name, action))
            self._reach[key] = found
        return found

    def _objects(self, type_name: str, action: str) -> list[str]:
        if action in TYPE_ACTIONS:
            return [f"{type_name}.*"]
        return [f"{type_name}.{f}" for f in sorted(self.catalog.fields(type_name))]

    def scope_kinds(self, roles: frozenset[str], entity: str, action: str) -> frozenset[str] | None:
        """The record scopes (`all`, `own`, `team`) under which the roles reach the entity for
        `action`; None when they do not reach it at all. A role counts only if its own rules
        allow something of the entity (another role's grant does not lend it its scope)."""
        key = (roles, entity, action)
        if key in self._kinds:
            return self._kinds[key]
        kinds: frozenset[str] | None = None
        if self.reaches(roles, entity, action):
            kinds = frozenset(
                self._scopes.get((role, entity, action), "all")
                for role in roles
                if any(self.effect(role, obj, action) is Effect.ALLOW for obj in self._objects(entity, action))
            )
        self._kinds[key] = kinds
        return kinds

    def role_scopes(self, role: str) -> dict[tuple[str, str], str]:
        return {(entity, action): scope for (r, entity, action), scope in self._scopes.items() if r == role}

    def remember(self, key: tuple[Any, frozenset[str]], value: Any) -> None:
        _bounded(self.decisions, key, value)

    def remember_scopes(self, key: Any, value: Any) -> None:
        _bounded(self.scope_filters, key, value)


def _bounded(memo: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    memo[key] = value
    if len(memo) > _DECISIONS:
        memo.popitem(last=False)
