"""Changing a tenant's access policy: roles, rules, record scopes, bindings.

Every change runs in the admin's tenant transaction and follows the same steps:

1. lock the tenant's policy and load it fresh from the database (not from a cached snapshot),
   so concurrent changes of one tenant run one after another and see each other;
2. check the actor: it must hold `manage_policies` (or `manage_keys` for keys), and it cannot
   give anyone more than it holds itself (grants, removing denies, widening scopes, binding
   roles are all checked against the actor's own permissions);
3. validate names against the schema catalog (unknown types or fields are BAD_USER_INPUT);
4. write, then load again and refuse the change (rolling it back) if no active user could
   manage policies any more: admins cannot lock the tenant out;
5. write an audit entry in the admin's terms (the row changes are audited by triggers too).

Every commit bumps the tenant's policy version and notifies every process (migration 0012).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from uuid import UUID

from uuid_utils.compat import uuid7

from backend.audit import service as audit
from backend.auth import subject_of
from backend.context import Actor, ActorKind, TenantContext
from backend.errors import BadInput, Conflict, FieldError, Forbidden, NotFound
from policies import defaults
from policies.adapter import RoleRow, load_rows
from policies.catalog import Catalog
from policies.enforcer import Effect, TenantPolicy
from policies.scopes import OWNERSHIP, SCOPED_ACTIONS

POLICY_OBJECT, POLICY_ACTION = "Role.*", "manage_policies"
KEYS_OBJECT, KEYS_ACTION = "ApiKey.*", "manage_keys"
SCOPE_RANK = {"own": 0, "team": 1, "all": 2}
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_SHOWN = 10  # missing permissions listed in an error


async def current(tx: TenantContext, catalog: Catalog) -> TenantPolicy:
    """The tenant's policy as of now, locked until the transaction ends."""
    return TenantPolicy(tx.tenant_id, await load_rows(tx, for_update=True), catalog)


async def reload(tx: TenantContext, catalog: Catalog) -> TenantPolicy:
    """The tenant's policy including this transaction's changes (for answering the admin)."""
    return TenantPolicy(tx.tenant_id, await load_rows(tx), catalog)


def actor_roles(actor: Actor, policy: TenantPolicy) -> frozenset[str]:
    """The roles a user or API key holds under `policy` (none for jobs and the system)."""
    if actor.kind not in (ActorKind.USER, ActorKind.API_KEY) or actor.id is None:
        return frozenset()
    return policy.roles_of(subject_of(actor.kind, actor.id))


def require(tx: TenantContext, policy: TenantPolicy, obj: str, action: str) -> frozenset[str]:
    """The actor's roles, if they allow `action` on `obj`; FORBIDDEN otherwise."""
    roles = actor_roles(tx.actor, policy)
    if not policy.allowed(roles, obj, action):
        raise Forbidden(f"{action} on {obj} is needed for this", denied=[{"object": obj, "action": action}])
    return roles


def _refuse_missing(missing: list[tuple[str, str]]) -> None:
    if missing:
        shown = ", ".join(f"{action} {obj}" for obj, action in missing[:_SHOWN])
        more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
        raise Forbidden(
            f"you cannot give more than you hold: {shown}{more}",
            denied=[{"object": obj, "action": action} for obj, action in missing],
        )


def _missing(policy: TenantPolicy, roles: frozenset[str], requests: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(obj, action) for obj, action in requests if not policy.allowed(roles, obj, action)]


def _role_surplus(policy: TenantPolicy, actor: frozenset[str], role: str) -> list[tuple[str, str]]:
    """What the role may do that the actor may not: permissions and wider record scopes."""
    single = frozenset({role})
    requests = {
        request
        for grant in policy.rows.grants
        if grant.role == role and grant.effect == "allow"
        for request in policy.catalog.covered(grant.object, grant.action)
    }
    missing = [r for r in sorted(requests) if policy.allowed(single, *r) and not policy.allowed(actor, *r)]
    for entity in policy.catalog.entities:
        for action in SCOPED_ACTIONS:
            theirs = policy.scope_kinds(single, entity, action)
            if theirs and _rank(theirs) > _rank(policy.scope_kinds(actor, entity, action)):
                missing.append((f"{entity}.* (record scope {max(theirs, key=SCOPE_RANK.__getitem__)})", action))
    return missing


def _rank(kinds: frozenset[str] | None) -> int:
    return max((SCOPE_RANK[k] for k in kinds), default=-1) if kinds else -1


async def check_not_locked_out(tx: TenantContext, catalog: Catalog) -> None:
    """Refuse (CONFLICT) a change that leaves no active user able to manage policies."""
    after = await reload(tx, catalog)
    users = {UUID(b.subject.partition(":")[2]) for b in after.rows.bindings if b.subject.startswith("user:")}
    active = await tx.fetch(
        "SELECT id FROM users WHERE tenant_id = $1 AND is_active AND id = ANY($2::uuid[])", tx.tenant_id, list(users)
    )
    for row in active:
        if after.allowed(after.roles_of(subject_of(ActorKind.USER, row["id"])), POLICY_OBJECT, POLICY_ACTION):
            return
    raise Conflict(
        "this change would leave no active user who can manage access policies: "
        "bind another user to an administering role first"
    )


def _role(policy: TenantPolicy, name: str, field: str = "role") -> RoleRow:
    role = policy.roles.get(name)
    if role is None:
        raise NotFound(f"no role named '{name}'", field=field)
    return role


def _check_name(name: str, field: str) -> str:
    if not _ROLE_NAME.match(name):
        raise BadInput("a role name is lower-case letters, digits, '-' and '_', starting with a letter", field=field)
    return name


def _check_rule(catalog: Catalog, obj: str, action: str) -> None:
    problem = catalog.check_rule(obj, action)
    if problem is not None:
        field = "action" if problem.startswith("unknown action") else "object"
        raise BadInput([FieldError(field, problem)])


# -- roles ----------------------------------------------------------------------------------


async def create_role(tx: TenantContext, catalog: Catalog, *, name: str, description: str = "") -> RoleRow:
    policy = await current(tx, catalog)
    require(tx, policy, POLICY_OBJECT, POLICY_ACTION)
    _check_name(name, "name")
    if len(description) > 500:
        raise BadInput("a description has at most 500 characters", field="description")
    if name in policy.roles:
        raise Conflict(f"a role named '{name}' exists already", field="name")
    role = RoleRow(uuid7(), name, description)
    await tx.execute(
        "INSERT INTO access_roles (tenant_id, id, name, description) VALUES ($1, $2, $3, $4)",
        tx.tenant_id,
        role.id,
        name,
        description,
    )
    await audit.record(tx, "policy.role_create", "access_roles", role.id, after={"name": name})
    return role


async def rename_role(tx: TenantContext, catalog: Catalog, *, name: str, new_name: str) -> RoleRow:
    policy = await current(tx, catalog)
    require(tx, policy, POLICY_OBJECT, POLICY_ACTION)
    role = _role(policy, name, "name")
    _check_name(new_name, "newName")
    if new_name != name and new_name in policy.roles:
        raise Conflict(f"a role named '{new_name}' exists already", field="newName")
    await tx.execute(
        "UPDATE access_roles SET name = $3 WHERE tenant_id = $1 AND id = $2", tx.tenant_id, role.id, new_name
    )
    await audit.record(tx, "policy.role_rename", "access_roles", role.id, before={"name": name},
                       after={"name": new_name})  # fmt: skip
    return RoleRow(role.id, new_name, role.description)


async def delete_role(tx: TenantContext, catalog: Catalog, *, name: str) -> None:
    policy = await current(tx, catalog)
    require(tx, policy, POLICY_OBJECT, POLICY_ACTION)
    role = _role(policy, name, "name")
    await tx.execute("DELETE FROM access_roles WHERE tenant_id = $1 AND id = $2", tx.tenant_id, role.id)
    await check_not_locked_out(tx, catalog)
    await audit.record(tx, "policy.role_delete", "access_roles", role.id, before={"name": name})


# -- rules and scopes -------------------------------------------------------------------------


async def set_rule(tx: TenantContext, catalog: Catalog, *, role: str, obj: str, action: str, effect: Effect) -> None:
    """Allow or deny `action` on `obj` for the role (replacing a rule for the same pair)."""
    policy = await current(tx, catalog)
    actor = require(tx, policy, POLICY_OBJECT, POLICY_ACTION)
    target = _role(policy, role)
    _check_rule(catalog, obj, action)
    name = "allow" if effect is Effect.ALLOW else "deny"
    if effect is Effect.ALLOW:
        _refuse_missing(_missing(policy, actor, catalog.covered(obj, action)))
    previous = next((g for g in policy.rows.grants if (g.role, g.object, g.action) == (role, obj, action)), None)
    await tx.execute(
        "INSERT INTO access_grants (tenant_id, id, role_id, object, action, effect) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (tenant_id, role_id, object, action) DO UPDATE SET effect = EXCLUDED.effect",
        tx.tenant_id,
        uuid7(),
        target.id,
        obj,
        action,
        name,
    )
    await check_not_locked_out(tx, catalog)
    rule = {"role": role, "object": obj, "action": action}
    await audit.record(tx, f"policy.{name}", "access_grants", None,
                       before={**rule, "effect": previous.effect} if previous else None,
                       after={**rule, "effect": name})  # fmt: skip


async def remove_rule(tx: TenantContext, catalog: Catalog, *, role: str, obj: str, action: str) -> None:
    policy = await current(tx, catalog)
    actor = require(tx, policy, POLICY_OBJECT, POLICY_ACTION)
    target = _role(policy, role)
    rule = next((g for g in policy.rows.grants if (g.role, g.object, g.action) == (role, obj, action)), None)
    if rule is None:
        raise NotFound(f"role '{role}' has no rule for {action} on {obj}", field="object")
    if rule.effect == "deny":  # lifting a deny gives access: only what the actor holds
        _refuse_missing(_missing(policy, actor, catalog.covered(obj, action)))
    await tx.execute(
        "DELETE FROM access_grants WHERE tenant_id = $1 AND role_id = $2 AND object = $3 AND action = $4",
        tx.tenant_id,
        target.id,
        obj,
        action,
    )
    await check_not_locked_out(tx, catalog)
    await audit.record(tx, "policy.remove", "access_grants", None,
                       before={"role": role, "object": obj, "action": action, "effect": rule.effect})  # fmt: skip


async def set_scope(tx: TenantContext, catalog: Catalog, *, role: str, entity: str, action: str, scope: str) -> None:
    """Which records of `entity` the role reaches for `action`: all, own or team."""
    policy = await current(tx, catalog)
    actor = require(tx, policy, POLICY_OBJECT, POLICY_ACTION)
    target = _role(policy, role)
    errors = []
    if entity not in catalog.entities:
        errors.append(FieldError("type", f"unknown type '{entity}'"))
    if action not in SCOPED_ACTIONS:
        errors.append(FieldError("action", f"record scopes apply to {', '.join(SCOPED_ACTIONS)}"))
    if scope not in SCOPE_RANK:
        errors.append(FieldError("scope", "a scope is all, own or team"))
    elif scope != "all" and entity not in OWNERSHIP:
        errors.append(FieldError("scope", f"{entity} records have no owner: only 'all' applies"))
    if errors:
        raise BadInput(errors)
    previous = policy.role_scopes(role).get((entity, action), "all")
    if SCOPE_RANK[scope] > SCOPE_RANK[previous] and SCOPE_RANK[scope] > _rank(
        policy.scope_kinds(actor, entity, action)
    ):
        _refuse_missing([(f"{entity}.* (record scope {scope})", action)])
    if scope == "all":
        await tx.execute(
            "DELETE FROM access_scopes WHERE tenant_id = $1 AND role_id = $2 AND entity = $3 AND action = $4",
            tx.tenant_id,
            target.id,
            entity,
            action,
        )
    else:
        await tx.execute(
            "INSERT INTO access_scopes (tenant_id, id, role_id, entity, action, scope) "
            "VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (tenant_id, role_id, entity, action) DO UPDATE SET scope = EXCLUDED.scope",
            tx.tenant_id,
            uuid7(),
            target.id,
            entity,
            action,
            scope,
        )
    await check_not_locked_out(tx, catalog)
    where = {"role": role, "type": entity, "action": action}
    await audit.record(tx, "policy.scope", "access_scopes", None, before={**where, "scope": previous},
                       after={**where, "scope": scope})  # fmt: skip


# -- bindings ---------------------------------------------------------------------------------


async def _subject_exists(tx: TenantContext, kind: ActorKind, subject_id: UUID) -> None:
    table = "users" if kind is ActorKind.USER else "api_keys"
    if not await tx.fetchval(f"SELECT 1 FROM {table} WHERE tenant_id = $1 AND id = $2", tx.tenant_id, subject_id):
        raise NotFound(f"no such {'user' if kind is ActorKind.USER else 'API key'}", field="subject")


async def bind(tx: TenantContext, catalog: Catalog, *, role: str, kind: ActorKind, subject_id: UUID) -> None:
    """Give a user or an API key a role; the actor must hold everything the role gives."""
    policy = await current(tx, catalog)
    actor = require(tx, policy, POLICY_OBJECT, POLICY_ACTION)
    await _bind(tx, policy, actor, [role], kind, subject_id)


async def operator_bind(tx: TenantContext, catalog: Catalog, *, role: str, user_id: UUID) -> None:
    """Bind a user to a role on an operator's authority (CLI, bootstrap of a tenant's first admin):
    no actor check, the tenant's default roles installed first if it never had a policy."""
    await defaults.ensure(tx)
    policy = await reload(tx, catalog)
    await _bind(tx, policy, frozenset({role}), [role], ActorKind.USER, user_id)


async def bind_key_roles(tx: TenantContext, catalog: Catalog, *, key_id: UUID, roles: list[str]) -> None:
    """The roles of a new key (the actor manages keys; it still cannot give more than it holds)."""
    policy = await current(tx, catalog)
    actor = require(tx, policy, KEYS_OBJECT, KEYS_ACTION)
    await _bind(tx, policy, actor, roles, ActorKind.API_KEY, key_id)


async def _bind(
    tx: TenantContext,
    policy: TenantPolicy,
    actor: frozenset[str],
    roles: list[str],
    kind: ActorKind,
    subject_id: UUID,
) -> None:
    await _subject_exists(tx, kind, subject_id)
    targets = [_role(policy, name, f"roles.{i}" if len(roles) > 1 else "role") for i, name in enumerate(roles)]
    _refuse_missing([m for target in targets for m in _role_surplus(policy, actor, target.name)])
    column = "user_id" if kind is ActorKind.USER else "api_key_id"
    await _take_over(tx, kind, subject_id)
    await tx.execute(
        f"INSERT INTO access_bindings (tenant_id, id, role_id, {column}) "
        "SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::uuid[]) "
        f"ON CONFLICT (tenant_id, role_id, {column}) DO NOTHING",
        tx.tenant_id,
        [uuid7() for _ in targets],
        [t.id for t in targets],
        [subject_id] * len(targets),
    )
    await audit.record(tx, "policy.bind", "access_bindings", subject_id,
                       after={"subject": subject_of(kind, subject_id), "roles": [t.name for t in targets]})  # fmt: skip


async def unbind(tx: TenantContext, catalog: Catalog, *, role: str, kind: ActorKind, subject_id: UUID) -> None:
    policy = await current(tx, catalog)
    require(tx, policy, POLICY_OBJECT, POLICY_ACTION)
    target = _role(policy, role)
    column = "user_id" if kind is ActorKind.USER else "api_key_id"
    await _take_over(tx, kind, subject_id)
    status = await tx.execute(
        f"DELETE FROM access_bindings WHERE tenant_id = $1 AND role_id = $2 AND {column} = $3",
        tx.tenant_id,
        target.id,
        subject_id,
    )
    if status == "DELETE 0":
        raise NotFound(f"the subject does not hold the role '{role}'", field="subject")
    await check_not_locked_out(tx, catalog)
    await audit.record(tx, "policy.unbind", "access_bindings", subject_id,
                       before={"subject": subject_of(kind, subject_id), "roles": [role]})  # fmt: skip


async def _take_over(tx: TenantContext, kind: ActorKind, subject_id: UUID) -> None:
    """Once an admin sets a user's roles, the token's roles claim never seeds them again."""
    if kind is ActorKind.USER:
        await tx.execute(
            "UPDATE users SET roles_seeded = true WHERE tenant_id = $1 AND id = $2 AND NOT roles_seeded",
            tx.tenant_id,
            subject_id,
        )


async def seed_user_roles(tx: TenantContext, user_id: UUID, roles: frozenset[str]) -> bool:
    """First sign-in: bind the roles the token names (those the tenant has), once per user.

    Runs as part of authentication (the identity provider vouches for the claim), not as an
    admin action; tenants created before access control get their default roles here first."""
    seeded = await tx.fetchval(
        "UPDATE users SET roles_seeded = true WHERE tenant_id = $1 AND id = $2 AND NOT roles_seeded RETURNING id",
        tx.tenant_id,
        user_id,
    )
    if seeded is None:
        return False
    installed = await defaults.ensure(tx)
    if not roles:
        return installed
    await tx.execute(
        "INSERT INTO access_bindings (tenant_id, id, role_id, user_id) "
        "SELECT $1, gen_random_uuid(), r.id, $2 FROM access_roles r WHERE r.tenant_id = $1 AND r.name = ANY($3) "
        "ON CONFLICT (tenant_id, role_id, user_id) DO NOTHING",
        tx.tenant_id,
        user_id,
        sorted(roles),
    )
    return True
