"""People's tokens: RS256/ES256 against a real JWKS endpoint (cache, refresh on unknown kid),
issuer/audience/expiry/leeway, algorithm confusion, and failures rate-limited per source."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backend.auth import Authenticator, JwksKeys, issue_token
from backend.context import ActorKind
from backend.errors import RateLimited, Unauthenticated
from backend.listener import Listener
from backend.models import Tenant
from backend.settings import Settings
from policies.access import AccessControl
from policies.catalog import Catalog
from schema import schema
from tests.auth.test_api_keys import client_from
from tests.conftest import Api


@dataclass
class IdentityProvider:
    """A JWKS endpoint on a real socket, with keys the test can rotate."""

    url: str = ""
    keys: dict[str, Any] = field(default_factory=dict)  # kid -> private key
    published: list[str] = field(default_factory=list)  # kids served
    fetches: int = 0

    def add(self, kid: str, key: Any, *, publish: bool = True) -> None:
        self.keys[kid] = key
        if publish:
            self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        found = []
        for kid in self.published:
            key = self.keys[kid]
            algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
            found.append({**algorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "use": "sig"})
        return {"keys": found}

    def token(self, where: Tenant, kid: str, *, algorithm: str | None = None, **claims: Any) -> str:
        key = self.keys[kid]
        now = int(time.time())
        payload = {"iss": "rapport", "aud": "rapport-api", "sub": "ida", "tenant": str(where.id), "iat": now,
                   "exp": now + 600, "email": "ida@example.com", "roles": ["viewer"], **claims}  # fmt: skip
        algorithm = algorithm or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture
async def idp() -> AsyncIterator[IdentityProvider]:
    provider = IdentityProvider()

    async def jwks(request: Request) -> JSONResponse:
        provider.fetches += 1
        return JSONResponse(provider.jwks())

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/jwks", jwks)]), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    provider.url = f"http://127.0.0.1:{port}/jwks"
    provider.add("r1", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    provider.add("e1", ec.generate_private_key(ec.SECP256R1()))
    yield provider
    server.should_exit = True
    await task


@dataclass
class Wiring:
    """What an authenticator is wired to in the app: the listener and access control."""

    listener: Listener
    access: AccessControl


@pytest.fixture
async def listener(settings: Settings, app_db: None) -> AsyncIterator[Wiring]:
    found = Listener(settings.database_url)
    wiring = Wiring(found, AccessControl(Catalog(schema._schema), found))
    await found.start()
    yield wiring
    await found.stop()


def authenticator(settings: Settings, wiring: Wiring, **overrides: Any) -> Authenticator:
    return Authenticator(settings.model_copy(update=overrides), roles=wiring.access, listener=wiring.listener)


async def test_rs256_and_es256_tokens_from_the_jwks(idp: IdentityProvider, settings: Settings, listener: Wiring,
                                                    tenant: Tenant) -> None:  # fmt: skip
    auth = authenticator(settings, listener, jwt_jwks_url=idp.url)
    for kid in ("r1", "e1"):
        principal = await auth.authenticate(f"Bearer {idp.token(tenant, kid)}")
        assert principal.tenant_id == tenant.id and principal.actor.kind is ActorKind.USER
        assert principal.roles == {"viewer"}  # seeded from the first token's claim
    assert idp.fetches == 1  # cached


async def test_refused_tokens(idp: IdentityProvider, settings: Settings, listener: Wiring, tenant: Tenant) -> None:
    auth = authenticator(settings, listener, jwt_jwks_url=idp.url, jwt_leeway_seconds=30)
    now = int(time.time())
    hs256 = issue_token(settings, tenant_id=tenant.id, subject="ida", roles=[], email="ida@example.com")
    unsigned = jwt.encode({"sub": "ida", "tenant": str(tenant.id)}, "", algorithm="none")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(jwt.decode(idp.token(tenant, "r1"), options={"verify_signature": False}), other_key,
                        algorithm="RS256", headers={"kid": "r1"})  # fmt: skip
    refused = [
        hs256,  # the dev secret is not accepted once a JWKS is configured
        unsigned,
        forged,
        idp.token(tenant, "r1", iss="someone-else"),
        idp.token(tenant, "r1", aud="another-api"),
        idp.token(tenant, "r1", exp=now - 31),  # expired beyond the leeway
        idp.token(tenant, "r1", iat=now, exp=now + 60, tenant="not-a-uuid"),
        idp.token(tenant, "r1", algorithm="PS256"),  # an algorithm outside RS256/ES256
    ]
    for token in refused:
        with pytest.raises(Unauthenticated):
            await auth.authenticate(f"Bearer {token}")
    # A token claiming RS256 under the kid of the EC key is refused: the key decides.
    header_swap = jwt.encode({"sub": "x"}, idp.keys["r1"], algorithm="RS256", headers={"kid": "e1"})
    with pytest.raises(Unauthenticated):
        await auth.authenticate(f"Bearer {header_swap}")
    assert await auth.authenticate(f"Bearer {idp.token(tenant, 'r1', exp=now - 20)}")  # within the leeway


async def test_unknown_kid_refreshes_the_keys_at_most_every_few_seconds(idp: IdentityProvider) -> None:
    keys = JwksKeys(idp.url, ttl=600, min_refresh=1.0)
    try:
        assert await keys.key("r1") is not None and idp.fetches == 1
        idp.add("r2", rsa.generate_private_key(public_exponent=65537, key_size=2048), publish=False)
        assert await keys.key("r2") is None  # not published yet; and this refresh is rate-limited
        assert idp.fetches == 1
        idp.published.append("r2")  # the provider rotates
        await asyncio.sleep(1.05)
        assert await keys.key("r2") is not None and idp.fetches == 2
        assert await asyncio.gather(*(keys.key(f"made-up-{i}") for i in range(20))) == [None] * 20
        assert idp.fetches <= 3  # made-up kids cannot make us hammer the provider
    finally:
        await keys.close()


async def test_failures_are_rate_limited_per_source(settings: Settings, listener: Wiring, tenant: Tenant) -> None:
    auth = authenticator(settings, listener, auth_failure_limit=3)
    good = f"Bearer {issue_token(settings, tenant_id=tenant.id, subject='ida', roles=[], email='ida@example.com')}"
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await auth.authenticate("Bearer nope", source="10.0.0.1")
    with pytest.raises(RateLimited) as limited:
        await auth.authenticate(good, source="10.0.0.1")
    assert limited.value.extensions["retryAfter"] >= 1
    assert (await auth.authenticate(good, source="10.0.0.2")).tenant_id == tenant.id


async def test_http_answers_unauthenticated_then_rate_limited(api: Api, tenant: Tenant) -> None:
    async with client_from(api, "127.0.0.9") as client:
        codes = [
            (
                await client.post(
                    "/graphql", json={"query": "{ viewer { roles } }"}, headers={"Authorization": "Bearer x"}
                )
            ).status_code
            for _ in range(api.settings.auth_failure_limit)
        ]
        assert set(codes) == {401}
        headers = {"Authorization": f"Bearer {api.token(tenant)}"}
        limited = await client.post("/graphql", json={"query": "{ viewer { roles } }"}, headers=headers)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    other = await api.client.post("/graphql", json={"query": "{ viewer { roles } }"}, headers=headers)
    assert other.status_code == 200


async def test_a_deactivated_user_is_refused_within_a_second(api: Api, tenant: Tenant) -> None:
    await api.graphql(tenant, "{ viewer { roles } }", subject="alice")
    await api.graphql(tenant, "{ viewer { roles } }", subject="ed", roles=("viewer",))
    users = await api.graphql(tenant, '{ users(filter: {email: {eq: "ed@example.com"}}) { nodes { id } } }')
    ed = users["data"]["users"]["nodes"][0]["id"]
    body = await api.graphql(tenant, "mutation ($id: ID!) { userUpdate(id: $id, input: {isActive: false}) "
                             "{ user { isActive } } }", {"id": ed})  # fmt: skip
    assert body["data"] == {"userUpdate": {"user": {"isActive": False}}}
    start = time.monotonic()
    async with client_from(api, "127.0.0.4") as client:
        headers = {"Authorization": f"Bearer {api.token(tenant, subject='ed', roles=('viewer',))}"}
        while (
            await client.post("/graphql", json={"query": "{ viewer { roles } }"}, headers=headers)
        ).status_code != 401:
            assert time.monotonic() - start < 1.0
            await asyncio.sleep(0.02)


async def test_users_unknown_to_the_tenant_are_refused_when_provisioning_is_off(
    settings: Settings, listener: Wiring, tenant: Tenant
) -> None:
    auth = authenticator(settings, listener, auth_provision_users=False)
    token = issue_token(settings, tenant_id=tenant.id, subject=f"new-{uuid.uuid4()}", roles=["admin"], email="n@x.io")
    with pytest.raises(Unauthenticated):
        await auth.authenticate(f"Bearer {token}")


def test_the_keys_document_must_be_a_jwks() -> None:
    with pytest.raises(ValueError, match="JWKS"):
        JwksKeys.parse({"keys": "nope"})
    assert JwksKeys.parse({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}) == {}  # symmetric keys are not accepted
