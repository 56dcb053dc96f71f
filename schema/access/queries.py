from __future__ import annotations

from uuid import UUID

import strawberry

from backend.auth import subject_of
from backend.context import ActorKind
from backend.errors import BadInput, FieldError, NotFound
from policies import explain
from policies.catalog import Requires
from policies.scopes import OWNERSHIP
from schema.access.types import AccessExplanation, AccessMatrix, AccessMatrixRow, AccessType, Role, role_node
from schema.context import Context
from schema.relay import from_global_id

READ_POLICY = Requires(object="Role.*", action="read")
SUBJECT_TYPES = {"User": ActorKind.USER, "ApiKey": ActorKind.API_KEY}


async def resolve_subject(context: Context, value: str, field: str = "subject") -> tuple[ActorKind, UUID]:
    """A user's or API key's global id as (kind, id), checked to exist in the tenant."""
    type_name, pk = from_global_id(value, field=field)
    kind = SUBJECT_TYPES.get(type_name)
    if kind is None:
        raise BadInput("a subject is a user or an API key", field=field)
    table = "users" if kind is ActorKind.USER else "api_keys"
    tx = context.tx
    if not await tx.fetchval(f"SELECT 1 FROM {table} WHERE tenant_id = $1 AND id = $2", tx.tenant_id, pk):
        raise NotFound(f"no such {type_name}", field=field)
    return kind, pk


@strawberry.type
class Query:
    @strawberry.field(description="The tenant's roles, by name.")
    def roles(self, info: strawberry.Info) -> list[Role]:
        context: Context = info.context
        assert context.policy is not None
        return [role_node(context.policy, name) for name in sorted(context.policy.roles)]

    @strawberry.field(description="One role by name; null when there is none.")
    def role(self, info: strawberry.Info, name: str) -> Role | None:
        context: Context = info.context
        assert context.policy is not None
        return role_node(context.policy, name) if name in context.policy.roles else None

    @strawberry.field(
        directives=[READ_POLICY],
        description="Whether a user or API key may do `action` on `object` (`Type.field` or `Type.*`), "
        "and the rules that decide it.",
    )
    async def access_explain(
        self, info: strawberry.Info, subject: strawberry.ID, object: str, action: str
    ) -> AccessExplanation:
        context: Context = info.context
        policy = context.policy
        assert policy is not None
        problem = policy.catalog.check_rule(object, action)
        if problem is not None:
            raise BadInput([FieldError("action" if problem.startswith("unknown action") else "object", problem)])
        kind, pk = await resolve_subject(context, subject)
        return AccessExplanation.of(subject, explain.explain(policy, subject_of(kind, pk), object, action))

    @strawberry.field(
        directives=[READ_POLICY], description="What a role's rules say about every object, for an admin UI."
    )
    def access_matrix(self, info: strawberry.Info, role: str) -> AccessMatrix:
        context: Context = info.context
        policy = context.policy
        assert policy is not None
        if role not in policy.roles:
            raise NotFound(f"no role named '{role}'", field="role")
        return AccessMatrix(role=role, rows=[AccessMatrixRow.of(row) for row in explain.matrix(policy, role)])

    @strawberry.field(directives=[READ_POLICY], description="The types and fields access rules can name.")
    def access_catalog(self, info: strawberry.Info) -> list[AccessType]:
        context: Context = info.context
        assert context.policy is not None
        entities = context.policy.catalog.entities
        return [
            AccessType(name=name, fields=sorted(entities[name]), ownable=name in OWNERSHIP) for name in sorted(entities)
        ]
