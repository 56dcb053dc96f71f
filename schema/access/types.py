from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry

from backend.query import reads
from backend.query.entities import entity
from policies.enforcer import Effect as PolicyEffect
from policies.enforcer import TenantPolicy
from policies.explain import Decision, Explanation, MatrixRow
from schema.api_keys.types import keys_by_id
from schema.context import Context
from schema.fields import build
from schema.relay import Node, to_global_id

if TYPE_CHECKING:
    from schema.api_keys.types import ApiKey
    from schema.users.types import User


@strawberry.enum(description="Which records a role reaches for an action.")
class RecordScope(Enum):
    ALL = "all"
    OWN = "own"
    TEAM = "team"


@strawberry.enum(description="What a rule does.")
class AccessEffect(Enum):
    ALLOW = "allow"
    DENY = "deny"


@strawberry.enum(description="What one role's rules say about an object and action.")
class RoleEffect(Enum):
    ALLOW = "allow"
    DENY = "deny"
    NONE = "none"


strawberry.enum(Decision, description="The outcome of an access decision.")

_EFFECTS = {
    PolicyEffect.ALLOW: RoleEffect.ALLOW,
    PolicyEffect.DENY: RoleEffect.DENY,
    PolicyEffect.NONE: RoleEffect.NONE,
}


@strawberry.type(description="One rule: the role may (allow) or may not (deny) do `action` on `object`.")
class AccessRule:
    role: str
    object: str = strawberry.field(description="`*`, `Type.*` or `Type.field`.")
    action: str
    effect: AccessEffect


@strawberry.type(description="Which records of a type a role reaches for an action (default ALL).")
class RoleScope:
    type: str
    action: str
    scope: RecordScope


@strawberry.type(description="A role of the tenant's access policy, with its rules and who holds it.")
class Role(Node):
    name: str
    description: str
    rules: list[AccessRule]
    scopes: list[RoleScope]
    pk: strawberry.Private[UUID]
    subjects: strawberry.Private[list[str]]
    policy: strawberry.Private[TenantPolicy]

    @strawberry.field(description="Users holding the role.")
    async def users(self, info: strawberry.Info) -> list[Annotated[User, strawberry.lazy("schema.users.types")]]:
        ids = [UUID(s.partition(":")[2]) for s in self.subjects if s.startswith("user:")]
        context: Context = info.context
        rows = await reads.by_ids(context.tx, entity("User"), ids, scope=context.scope)
        return [build("User", rows[i]) for i in ids if i in rows]

    @strawberry.field(description="API keys holding the role.")
    async def api_keys(
        self, info: strawberry.Info
    ) -> list[Annotated[ApiKey, strawberry.lazy("schema.api_keys.types")]]:
        ids = [UUID(s.partition(":")[2]) for s in self.subjects if s.startswith("api_key:")]
        return await keys_by_id(info.context, ids, self.policy)


def role_node(policy: TenantPolicy, name: str) -> Role:
    row = policy.roles[name]
    return Role(
        id=to_global_id("Role", row.id),
        name=row.name,
        description=row.description,
        rules=[
            AccessRule(role=g.role, object=g.object, action=g.action, effect=AccessEffect(g.effect))
            for g in policy.rows.grants
            if g.role == name
        ],
        scopes=[
            RoleScope(type=entity_name, action=action, scope=RecordScope(scope))
            for (entity_name, action), scope in sorted(policy.role_scopes(name).items())
        ],
        pk=row.id,
        subjects=[b.subject for b in policy.rows.bindings if b.role == name],
        policy=policy,
    )


@strawberry.type(description="Why a principal may or may not do something.")
class AccessExplanation:
    subject: strawberry.ID
    object: str
    action: str
    allowed: bool
    decision: Decision
    roles: list[str] = strawberry.field(description="The roles the subject holds.")
    rules: list[AccessRule] = strawberry.field(description="Every rule of those roles that matches the request.")
    scope: str | None = strawberry.field(
        description="For a type and a record-scoped action: which records (all, own, team; none)."
    )
    reason: str

    @classmethod
    def of(cls, subject: strawberry.ID, found: Explanation) -> AccessExplanation:
        return cls(
            subject=subject,
            object=found.object,
            action=found.action,
            allowed=found.allowed,
            decision=found.decision,
            roles=list(found.roles),
            rules=[
                AccessRule(role=r.role, object=r.object, action=r.action, effect=AccessEffect(r.effect))
                for r in found.rules
            ],
            scope=found.scope,
            reason=found.reason,
        )


@strawberry.type(description="One action's cell in the matrix.")
class AccessCell:
    action: str
    effect: RoleEffect


@strawberry.type(description="One object of the schema and what a role's rules say about it.")
class AccessMatrixRow:
    object: str
    type: str
    field: str | None = strawberry.field(description="Null for the type row (`Type.*`: type actions, scopes).")
    cells: list[AccessCell]
    scopes: list[RoleScope]

    @classmethod
    def of(cls, row: MatrixRow) -> AccessMatrixRow:
        return cls(
            object=row.object,
            type=row.type,
            field=row.field,
            cells=[AccessCell(action=a, effect=_EFFECTS[e]) for a, e in row.cells],
            scopes=[RoleScope(type=row.type, action=a, scope=RecordScope(s)) for a, s in row.scopes],
        )


@strawberry.type(description="A role's effect on every object of the schema, for an admin UI.")
class AccessMatrix:
    role: str
    rows: list[AccessMatrixRow]


@strawberry.type(description="A type access rules can name, with its fields.")
class AccessType:
    name: str
    fields: list[str]
    ownable: bool = strawberry.field(description="Whether OWN and TEAM record scopes apply to it.")
