"""The roles every tenant starts with, and installing them.

    admin       everything, including policies and keys
    manager     the whole customer graph (read, create, update, delete, export, merge), the
                user directory and teams
    sales       accounts, contacts, orders (and their lines), opportunities: read all, create,
                update only their own records; products read
    support     tickets, feedback, contacts: read, create, update; accounts, orders, products
                read, but no order amounts
    viewer      read the customer graph, except personal data fields
    integrator  read, create, update the customer graph (API keys for integrations), no deletes;
                manages webhooks

Restrictions inside a broad grant are explicit deny rules (support's order amounts, viewer's
personal data), so a field added to a type later is covered by the broad grant and a
restricted field stays restricted; `accessExplain` names the rule. Deny wins across roles
(Casbin's deny-override): a user who is a viewer and also a sales person does not see
personal data. Give `viewer` alone, or narrow another role instead.

Grants may name types the API does not have yet (`Opportunity`): such a rule matches nothing
until the type exists, and then covers it.

New tenants get these roles when they are provisioned (tenants/provisioning.py); tenants
created before access control existed get them the first time their policy is loaded
(policies/access.py), i.e. on their first request.
"""

from __future__ import annotations

from dataclasses import dataclass

from uuid_utils.compat import uuid7

from backend.context import TenantContext

CUSTOMER_GRAPH = ("Account", "Contact", "Product", "Order", "OrderLine", "Ticket", "Feedback", "Opportunity")
SALES_RECORDS = ("Account", "Contact", "Order", "OrderLine", "Opportunity")
SALES_OWNED = ("Account", "Contact", "Order", "OrderLine")  # record scope `own` for updates
SUPPORT_RECORDS = ("Ticket", "Feedback", "Contact")
SUPPORT_READS = ("Account", "Order", "OrderLine", "Product")
PERSONAL_DATA = ("Contact.firstName", "Contact.lastName", "Contact.email", "Contact.phone")
ORDER_AMOUNTS = ("Order.total", "OrderLine.unitPrice", "OrderLine.amount")
# Who is who: every role may read teams and colleagues' names.
WEBHOOKS = ("Webhook", "WebhookDelivery")
DIRECTORY = ("Team.*", "User.id", "User.name", "User.email", "User.isActive")


@dataclass(frozen=True, slots=True)
class DefaultRole:
    name: str
    description: str
    grants: tuple[tuple[str, str, str], ...]  # (object, action, allow|deny)
    scopes: tuple[tuple[str, str, str], ...] = ()  # (entity, action, all|own|team)


def _allow(objects: tuple[str, ...], *actions: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((obj, action, "allow") for obj in objects for action in actions)


def _types(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{name}.*" for name in names)


DEFAULT_ROLES = (
    DefaultRole("admin", "Everything, including roles, policies and API keys.", (("*", "*", "allow"),)),
    DefaultRole(
        "manager",
        "The whole customer graph, the user directory and teams.",
        _allow(_types(CUSTOMER_GRAPH), "read", "create", "update", "delete", "export", "merge")
        + _allow(("Team.*", "User.*"), "read"),
    ),
    DefaultRole(
        "sales",
        "Accounts, contacts, orders and opportunities: reads all, updates own records.",
        _allow(_types(SALES_RECORDS), "read", "create", "update")
        + _allow(("Product.*",), "read")
        + _allow(DIRECTORY, "read"),
        scopes=tuple((entity, "update", "own") for entity in SALES_OWNED),
    ),
    DefaultRole(
        "support",
        "Tickets, feedback and contacts; reads accounts and orders without amounts.",
        _allow(_types(SUPPORT_RECORDS), "read", "create", "update")
        + _allow(_types(SUPPORT_READS), "read")
        + _allow(DIRECTORY, "read")
        + tuple((obj, "read", "deny") for obj in ORDER_AMOUNTS),
    ),
    DefaultRole(
        "viewer",
        "Reads the customer graph, without personal data.",
        _allow(_types(CUSTOMER_GRAPH), "read")
        + _allow(DIRECTORY, "read")
        + tuple((obj, "read", "deny") for obj in PERSONAL_DATA),
    ),
    DefaultRole(
        "integrator",
        "For API keys of integrations: reads, creates and updates the customer graph; manages webhooks.",
        _allow(_types(CUSTOMER_GRAPH), "read", "create", "update")
        + _allow(("User.id", "User.name"), "read")
        + _allow(_types(WEBHOOKS), "read", "create", "update", "delete", "manage_webhooks"),
    ),
)


async def install(tx: TenantContext) -> None:
    """Create the default roles in the transaction's tenant (roles it has already are kept).

    Three statements whatever the number of rules: each statement costs a policy version bump
    and an audit entry (statement-level triggers)."""
    ids = {role.name: uuid7() for role in DEFAULT_ROLES}
    created = await tx.fetch(
        "INSERT INTO access_roles (tenant_id, id, name, description) "
        "SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[]) "
        "ON CONFLICT (tenant_id, name) DO NOTHING RETURNING name",
        tx.tenant_id,
        list(ids.values()),
        [role.name for role in DEFAULT_ROLES],
        [role.description for role in DEFAULT_ROLES],
    )
    new = {row["name"] for row in created}
    grants = [(ids[r.name], *grant) for r in DEFAULT_ROLES if r.name in new for grant in r.grants]
    scopes = [(ids[r.name], *scope) for r in DEFAULT_ROLES if r.name in new for scope in r.scopes]
    for table, columns, rows in (
        ("access_grants", "object, action, effect", grants),
        ("access_scopes", "entity, action, scope", scopes),
    ):
        if rows:
            role_ids, first, second, third = (list(column) for column in zip(*rows, strict=True))
            await tx.execute(
                f"INSERT INTO {table} (tenant_id, id, role_id, {columns}) "
                "SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[])",
                tx.tenant_id,
                [uuid7() for _ in rows],
                role_ids,
                first,
                second,
                third,
            )


async def ensure(tx: TenantContext) -> bool:
    """Install the defaults if the tenant's policy was never initialised; True if it did.

    Locks the tenant's policy first, so concurrent first requests install them once."""
    version = await tx.fetchval("SELECT policy_version FROM tenants WHERE id = $1 FOR UPDATE", tx.tenant_id)
    if version != 0:
        return False
    await install(tx)
    return True
