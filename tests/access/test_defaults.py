"""Default roles: new tenants get them at provisioning, older tenants on first use; token role
claims seed a user's bindings once, and only with roles the tenant has."""

from __future__ import annotations

import uuid

from backend.db import tenant_transaction
from backend.models import Tenant
from backend.tenants import service as tenant_rows
from policies.catalog import Catalog
from policies.defaults import DEFAULT_ROLES
from schema import schema
from tests.access.test_admin_api import ok, sign_in
from tests.conftest import Api

CATALOG = Catalog(schema._schema)
DEFAULT_NAMES = ["admin", "integrator", "manager", "sales", "support", "viewer"]


async def test_a_new_tenant_starts_with_the_default_roles(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id) as tx:
        names = [r["name"] for r in await tx.fetch("SELECT name FROM access_roles ORDER BY name")]
        version = await tx.fetchval("SELECT policy_version FROM tenants WHERE id = $1", tenant.id)
    assert names == DEFAULT_NAMES
    assert version > 0
    assert tenant.policy_version == version


async def test_a_tenant_from_before_access_control_gets_them_on_first_use(api: Api) -> None:
    tenant_id = uuid.uuid4()
    async with tenant_transaction(tenant_id) as tx:  # as tenants were created before 0012
        old = await tenant_rows.create(tx, name="Old Timer", slug=f"old-{tenant_id.hex[:8]}")
    assert old.policy_version == 0
    await sign_in(api, old, "alice", "admin")
    assert [r["name"] for r in (await ok(api, old, "{ roles { name } }"))["roles"]] == DEFAULT_NAMES
    assert (await ok(api, old, "{ viewer { roles } }", subject="bo", roles=("sales", "wizard")))["viewer"] == {
        "roles": ["sales"]  # a claimed role the tenant does not have is ignored
    }


async def test_role_claims_seed_a_user_once(api: Api, tenant: Tenant) -> None:
    await sign_in(api, tenant, "alice", "admin")
    bob = await sign_in(api, tenant, "bob", "viewer")
    await ok(api, tenant, f'mutation {{ roleUnbind(role: "viewer", subject: "{bob}") {{ name }} }}')
    await ok(api, tenant, f'mutation {{ roleBind(role: "sales", subject: "{bob}") {{ name }} }}')
    # Bob's identity provider now claims more; Rapport's bindings decide.
    roles = await ok(api, tenant, "{ viewer { roles } }", subject="bob", roles=("admin",))
    assert roles["viewer"]["roles"] == ["sales"]


def test_default_rules_name_real_objects_or_types_still_to_come() -> None:
    planned = {"Opportunity"}
    for role in DEFAULT_ROLES:
        for obj, action, effect in role.grants:
            assert effect in ("allow", "deny")
            if obj.partition(".")[0] in planned:
                continue
            assert CATALOG.check_rule(obj, action) is None, (role.name, obj, action)
        for entity, action, scope in role.scopes:
            assert entity in CATALOG.entities and action == "update" and scope == "own"
