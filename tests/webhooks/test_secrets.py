"""Webhook signing secrets are stored sealed, bound to their row, and can be resealed."""

from __future__ import annotations

import pytest

from backend.crypto import Keyring, SealError, new_key
from backend.db import tenant_transaction
from backend.models import Tenant, WebhookEndpoint
from backend.settings import Settings
from backend.webhooks import service as webhooks
from schema.relay import from_global_id, to_global_id
from tests.conftest import Api

CREATE = """mutation($input: WebhookCreateInput!) { webhookCreate(input: $input) { secret webhook { id } } }"""
UPDATE = """mutation($id: ID!, $secret: String!) { webhookUpdate(id: $id, input: {secret: $secret}) { id } }"""


async def _register(api: Api, tenant: Tenant, secret: str | None = None) -> tuple[WebhookEndpoint, str]:
    given = {"secret": secret} if secret else {}
    data = await api.data(
        tenant, CREATE, {"input": {"url": "https://hooks.example.com/s", "eventTypes": ["*"], **given}}
    )
    _, pk = from_global_id(data["webhookCreate"]["webhook"]["id"])
    async with tenant_transaction(tenant.id):
        endpoint = await WebhookEndpoint.get(tenant_id=tenant.id, id=pk)
    return endpoint, data["webhookCreate"]["secret"]


async def test_secrets_are_stored_sealed_and_open_only_for_their_row(
    api: Api, settings: Settings, tenant: Tenant, other_tenant: Tenant
) -> None:
    endpoint, secret = await _register(api, tenant)
    assert secret.startswith("whsec_")
    assert endpoint.secret.startswith("rk1:dev:") and secret not in endpoint.secret
    assert webhooks.signing_secret(settings.keyring, tenant.id, endpoint) == secret
    # The same sealed value copied to another row does not open there.
    other, _ = await _register(api, other_tenant)
    other.secret = endpoint.secret
    with pytest.raises(SealError):
        webhooks.signing_secret(settings.keyring, other_tenant.id, other)

    chosen = "a-secret-of-my-own-choosing-0123456789"
    await api.data(tenant, UPDATE, {"id": to_global_id("Webhook", endpoint.id), "secret": chosen})
    async with tenant_transaction(tenant.id):
        await endpoint.refresh_from_db()
    assert chosen not in endpoint.secret
    assert webhooks.signing_secret(settings.keyring, tenant.id, endpoint) == chosen


async def test_reseal_seals_clear_values_and_moves_to_the_current_key(
    api: Api, settings: Settings, tenant: Tenant
) -> None:
    sealed, sealed_secret = await _register(api, tenant)
    legacy, _ = await _register(api, tenant)
    clear = "whsec_stored_in_clear_by_an_older_version"
    async with tenant_transaction(tenant.id):
        await WebhookEndpoint.filter(tenant_id=tenant.id, id=legacy.id).update(secret=clear)
        legacy.secret = clear
        assert webhooks.signing_secret(settings.keyring, tenant.id, legacy) == clear  # still usable

    async with tenant_transaction(tenant.id) as tx:
        assert await webhooks.reseal(tx, settings.keyring) == 1  # only the clear one
    rotated = Keyring.parse(f"k2:{new_key()},{settings.secrets_keys.get_secret_value()}")
    async with tenant_transaction(tenant.id) as tx:
        assert await webhooks.reseal(tx, rotated) == 2
        assert await webhooks.reseal(tx, rotated) == 0
    async with tenant_transaction(tenant.id):
        for endpoint, expected in ((sealed, sealed_secret), (legacy, clear)):
            await endpoint.refresh_from_db()
            assert endpoint.secret.startswith("rk1:k2:")
            assert webhooks.signing_secret(rotated, tenant.id, endpoint) == expected
