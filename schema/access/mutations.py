from __future__ import annotations

import strawberry

from policies import admin
from policies.catalog import Requires
from policies.enforcer import Effect, TenantPolicy
from schema.access.inputs import RoleCreateInput
from schema.access.queries import resolve_subject
from schema.access.types import RecordScope, Role, role_node
from schema.context import Context

MANAGE_POLICIES = Requires(object="Role.*", action="manage_policies")


def _parts(info: strawberry.Info) -> tuple[Context, TenantPolicy]:
    context: Context = info.context
    assert context.policy is not None
    return context, context.policy


async def _role(context: Context, policy: TenantPolicy, name: str) -> Role:
    """The role as this transaction left it (the request's snapshot predates the change)."""
    return role_node(await admin.reload(context.tx, policy.catalog), name)


@strawberry.type
class Mutation:
    @strawberry.mutation(directives=[MANAGE_POLICIES], description="Create a role (without rules).")
    async def role_create(self, info: strawberry.Info, input: RoleCreateInput) -> Role:
        context, policy = _parts(info)
        await admin.create_role(context.tx, policy.catalog, name=input.name, description=input.description)
        return await _role(context, policy, input.name)

    @strawberry.mutation(directives=[MANAGE_POLICIES], description="Rename a role; its rules and holders stay.")
    async def role_rename(self, info: strawberry.Info, name: str, new_name: str) -> Role:
        context, policy = _parts(info)
        await admin.rename_role(context.tx, policy.catalog, name=name, new_name=new_name)
        return await _role(context, policy, new_name)

    @strawberry.mutation(
        directives=[MANAGE_POLICIES], description="Delete a role, its rules and bindings; returns its name."
    )
    async def role_delete(self, info: strawberry.Info, name: str) -> str:
        context, policy = _parts(info)
        await admin.delete_role(context.tx, policy.catalog, name=name)
        return name

    @strawberry.mutation(
        directives=[MANAGE_POLICIES],
        description="Allow the role `action` on `object` (`*`, `Type.*`, `Type.field`); you must hold it yourself.",
    )
    async def policy_grant(self, info: strawberry.Info, role: str, object: str, action: str) -> Role:
        context, policy = _parts(info)
        await admin.set_rule(context.tx, policy.catalog, role=role, obj=object, action=action, effect=Effect.ALLOW)
        return await _role(context, policy, role)

    @strawberry.mutation(
        directives=[MANAGE_POLICIES], description="Deny the role `action` on `object`: a deny wins over any allow."
    )
    async def policy_deny(self, info: strawberry.Info, role: str, object: str, action: str) -> Role:
        context, policy = _parts(info)
        await admin.set_rule(context.tx, policy.catalog, role=role, obj=object, action=action, effect=Effect.DENY)
        return await _role(context, policy, role)

    @strawberry.mutation(directives=[MANAGE_POLICIES], description="Remove the role's rule for `action` on `object`.")
    async def policy_revoke(self, info: strawberry.Info, role: str, object: str, action: str) -> Role:
        context, policy = _parts(info)
        await admin.remove_rule(context.tx, policy.catalog, role=role, obj=object, action=action)
        return await _role(context, policy, role)

    @strawberry.mutation(
        directives=[MANAGE_POLICIES],
        description="Which records of `type` the role reaches for `action` (read, update, delete, export, merge).",
    )
    async def role_scope_set(
        self, info: strawberry.Info, role: str, type: str, action: str, scope: RecordScope
    ) -> Role:
        context, policy = _parts(info)
        await admin.set_scope(context.tx, policy.catalog, role=role, entity=type, action=action, scope=scope.value)
        return await _role(context, policy, role)

    @strawberry.mutation(
        directives=[MANAGE_POLICIES], description="Give a user or API key (by id) a role; you must hold what it gives."
    )
    async def role_bind(self, info: strawberry.Info, role: str, subject: strawberry.ID) -> Role:
        context, policy = _parts(info)
        kind, pk = await resolve_subject(context, subject)
        await admin.bind(context.tx, policy.catalog, role=role, kind=kind, subject_id=pk)
        return await _role(context, policy, role)

    @strawberry.mutation(directives=[MANAGE_POLICIES], description="Take a role from a user or API key.")
    async def role_unbind(self, info: strawberry.Info, role: str, subject: strawberry.ID) -> Role:
        context, policy = _parts(info)
        kind, pk = await resolve_subject(context, subject)
        await admin.unbind(context.tx, policy.catalog, role=role, kind=kind, subject_id=pk)
        return await _role(context, policy, role)
