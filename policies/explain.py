"""Why a principal may or may not do something, and a role's whole picture for an admin UI.

`explain` lists every rule of the subject's roles that matches the request (Casbin's own
keyMatch and action test) and the decision Casbin reaches over them; `matrix` gives, for one
role, its effect on every object of the schema for every action.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from casbin.util.builtin_operators import key_match

from policies.catalog import FIELD_ACTIONS, TYPE_ACTIONS, WILDCARD
from policies.enforcer import Effect, TenantPolicy
from policies.scopes import SCOPED_ACTIONS


class Decision(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"  # an explicit deny rule
    NOT_GRANTED = "not_granted"  # no rule allows it: deny by default


@dataclass(frozen=True, slots=True)
class MatchedRule:
    role: str
    object: str
    action: str
    effect: str


@dataclass(frozen=True, slots=True)
class Explanation:
    subject: str
    object: str
    action: str
    roles: tuple[str, ...]
    decision: Decision
    rules: tuple[MatchedRule, ...]
    scope: str | None  # for entity types and scoped actions: all | own | team | none
    reason: str

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOWED


def explain(policy: TenantPolicy, subject: str, obj: str, action: str) -> Explanation:
    roles = policy.roles_of(subject)
    rules = tuple(
        MatchedRule(g.role, g.object, g.action, g.effect)
        for g in policy.rows.grants
        if g.role in roles and key_match(obj, g.object) and g.action in (action, WILDCARD)
    )
    allowed = policy.allowed(roles, obj, action)
    denies = [r for r in rules if r.effect == "deny"]
    if allowed:
        decision = Decision.ALLOWED
        reason = "allowed by " + "; ".join(_rule(r) for r in rules if r.effect == "allow")
    elif denies:
        decision = Decision.DENIED
        reason = "denied by " + "; ".join(_rule(r) for r in denies) + " (a deny wins over any allow)"
    else:
        decision = Decision.NOT_GRANTED
        held = ", ".join(sorted(roles)) or "none"
        reason = f"no rule of the roles held ({held}) allows {action} on {obj}: denied by default"
    return Explanation(subject, obj, action, tuple(sorted(roles)), decision, rules, _scope(policy, roles, obj, action),
                       reason)  # fmt: skip


def _rule(rule: MatchedRule) -> str:
    return f"role '{rule.role}': {rule.effect} {rule.action} on {rule.object}"


def _scope(policy: TenantPolicy, roles: frozenset[str], obj: str, action: str) -> str | None:
    entity = obj.partition(".")[0]
    if entity not in policy.catalog.entities or action not in SCOPED_ACTIONS:
        return None
    kinds = policy.scope_kinds(roles, entity, action)
    if kinds is None:
        return "none"
    return "all" if "all" in kinds else ", ".join(sorted(kinds))


@dataclass(frozen=True, slots=True)
class MatrixRow:
    object: str  # Type.field for field actions, Type.* for type actions
    type: str
    field: str | None
    cells: tuple[tuple[str, Effect], ...]  # (action, effect of the role's rules)
    scopes: tuple[tuple[str, str], ...]  # (action, all|own|team) for type rows


def matrix(policy: TenantPolicy, role: str) -> list[MatrixRow]:
    """One role's effect on every object: a row per entity field (field actions) and one per
    entity (`Type.*`, type actions and record scopes)."""
    scopes = policy.role_scopes(role)
    rows: list[MatrixRow] = []
    for type_name in sorted(policy.catalog.entities):
        rows.append(
            MatrixRow(
                f"{type_name}.*",
                type_name,
                None,
                tuple((a, policy.effect(role, f"{type_name}.*", a)) for a in TYPE_ACTIONS),
                tuple((a, scopes.get((type_name, a), "all")) for a in SCOPED_ACTIONS),
            )
        )
        for field in sorted(policy.catalog.entities[type_name]):
            obj = f"{type_name}.{field}"
            rows.append(
                MatrixRow(obj, type_name, field, tuple((a, policy.effect(role, obj, a)) for a in FIELD_ACTIONS), ())
            )
    return rows
