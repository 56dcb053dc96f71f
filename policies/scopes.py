"""Record scopes: which rows of an entity a principal reaches, as a filter for the SQL builder.

Per role, type and action a tenant sets `all` (the default), `own` or `team`:

* `own`: the record's owner or assignee is the caller (accounts.owner_id, tickets.assignee_id;
  contacts, orders and feedback through their account's owner, order lines through their
  order's account, users: the caller);
* `team`: that owner or assignee is in the caller's team (the caller alone when it has none).

A principal's scope for (type, action) is the union over its roles that allow the action on
something of the type; no such role means it reaches no row (`Nothing`). API keys own
nothing, so `own`/`team` give a key no rows; jobs and the system act for the whole tenant.

The filters are ANDed into the SQL of every read and write by backend.query (both read paths
share its builder), so counts and pages are computed over the reachable rows only.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from backend.auth import Principal, subject_of
from backend.context import ActorKind
from backend.query.entities import Entity
from backend.query.filters import Compare, Filter, Nothing, Op, Or, Related
from backend.query.sql import Deferred
from policies.enforcer import TenantPolicy

# The caller's ids as bind parameters of a compiled statement (`env` of Plan.bind), so that
# callers with the same roles share one plan instead of one each.
USER_ID = Deferred(lambda env: env["user_id"])
TEAM_ID = Deferred(lambda env: env["team_id"])

# The relation path from an entity to the user who owns it (empty: the entity is the user).
OWNERSHIP: dict[str, tuple[str, ...]] = {
    "User": (),
    "Account": ("owner",),
    "Ticket": ("assignee",),
    "Contact": ("account", "owner"),
    "Order": ("account", "owner"),
    "Feedback": ("account", "owner"),
    "OrderLine": ("order", "account", "owner"),
}
SCOPED_ACTIONS = ("read", "update", "delete", "export", "merge")


def own_filter(entity: str, user_id: UUID | Deferred) -> Filter:
    path = OWNERSHIP.get(entity)
    if path is None:
        return Nothing()
    if not path:
        return Compare("id", Op.EQ, user_id)
    return _along(path[:-1], Compare(f"{path[-1]}_id", Op.EQ, user_id))


def team_filter(entity: str, user_id: UUID | Deferred, team_id: UUID | Deferred | None) -> Filter:
    if team_id is None:
        return own_filter(entity, user_id)
    path = OWNERSHIP.get(entity)
    if path is None:
        return Nothing()
    return _along(path, Compare("team_id", Op.EQ, team_id))


def _along(path: tuple[str, ...], inner: Filter) -> Filter:
    for relation in reversed(path):
        inner = Related(relation, inner)
    return inner


def record_filter(
    policy: TenantPolicy, principal: Principal, entity: str, action: str, *, bound: bool = False
) -> Filter | None:
    """The rows of `entity` the principal reaches for `action`: a filter, or None for all rows.

    `bound`: the caller's user and team ids are bind parameters (USER_ID, TEAM_ID) rather than
    values, for statements shared by every caller with the same roles."""
    kind = principal.actor.kind
    if kind not in (ActorKind.USER, ActorKind.API_KEY) or principal.actor.id is None:
        return None
    if entity not in policy.catalog.entities:
        return None  # not an API type: access control does not govern it
    roles = policy.roles_of(subject_of(kind, principal.actor.id))
    kinds = policy.scope_kinds(roles, entity, action)
    if kinds is None:
        return Nothing()
    if "all" in kinds:
        return None
    if kind is not ActorKind.USER:
        return Nothing()
    user_id: UUID | Deferred = USER_ID if bound else principal.actor.id
    team_id: UUID | Deferred | None = principal.team_id
    if bound and team_id is not None:
        team_id = TEAM_ID
    filters = [own_filter(entity, user_id) if k == "own" else team_filter(entity, user_id, team_id)
               for k in sorted(kinds)]  # fmt: skip
    return filters[0] if len(filters) == 1 else Or(tuple(filters))


class RecordScope:
    """`backend.query.sql.Scope`: a principal's record filter per entity, for one action.

    `key` identifies the filters (what they add to SQL text and bound values), for caches of
    compiled statements: callers with equal keys may share a plan."""

    __slots__ = ("filters", "key")

    def __init__(self, filters: dict[str, Filter | None]) -> None:
        self.filters = filters
        self.key = tuple((name, repr(f)) for name, f in sorted(filters.items()) if f is not None)

    def __call__(self, target: Entity) -> Filter | None:
        return self.filters.get(target.name)


def scope_for(policy: TenantPolicy, principal: Principal, action: str, *, bound: bool = False) -> RecordScope:
    """The principal's record scope for `action`; computed once per principal and action on
    the policy snapshot (and dropped with it), so a request pays a dict lookup per table.

    `bound` scopes (compiled reads) carry the caller's ids as parameters: they are computed once
    per set of roles, and their `key` is the same for every caller with those roles."""
    actor = principal.actor
    key: tuple[Any, ...]
    if bound and actor.id is not None:
        roles = frozenset(policy.roles_of(subject_of(actor.kind, actor.id)))
        key = ("bound", actor.kind, roles, principal.team_id is None, action)
    else:
        key = (actor.kind, actor.id, principal.team_id, action)
    scope: RecordScope | None = policy.scope_filters.get(key)
    if scope is None:
        scope = RecordScope(
            {name: record_filter(policy, principal, name, action, bound=bound) for name in policy.catalog.entities}
        )
        policy.remember_scopes(key, scope)
    return scope
