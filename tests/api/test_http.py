"""GraphQL over HTTP against a real server: authentication, errors, batching, limits."""

from __future__ import annotations

import jwt
import pytest

from backend.models import Tenant
from tests.conftest import Api

VIEWER = "{ viewer { tenant { name } user { email } roles } }"


async def test_viewer_sees_its_tenant_user_and_roles(api: Api, tenant: Tenant) -> None:
    body = await api.graphql(tenant, VIEWER, subject="bob", roles=("sales", "viewer"))
    assert body["data"]["viewer"] == {
        "tenant": {"name": tenant.name},
        "user": {"email": "bob@example.com"},
        "roles": ["sales", "viewer"],
    }
    assert body["extensions"]["cost"] > 0


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic abc", "Bearer not-a-jwt", "Bearer " + jwt.encode({"sub": "x"}, "k" * 32)],
)
async def test_requests_without_a_valid_token_get_only_unauthenticated(api: Api, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await api.client.post("/graphql", json={"query": VIEWER}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"message": "authentication required", "extensions": {"code": "UNAUTHENTICATED"}}],
        "data": None,
    }


async def test_token_signed_with_another_secret_is_refused(api: Api, tenant: Tenant) -> None:
    payload = jwt.decode(api.token(tenant), options={"verify_signature": False})
    forged = jwt.encode(payload, "another-secret-of-sufficient-length-000000", algorithm="HS256")
    response = await api.client.post("/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_token_for_an_unknown_tenant_is_refused(api: Api, tenant: Tenant) -> None:
    ghost = Tenant(id="00000000-0000-4000-8000-000000000000", name="ghost", slug="ghost")
    response = await api.client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {api.token(ghost)}"}
    )
    assert response.status_code == 401


async def test_invalid_documents_are_bad_user_input(api: Api, tenant: Tenant) -> None:
    for query in ["{ viewer { nope } }", "{ viewer {", "query A { viewer { roles } } query B { viewer { roles } }"]:
        body = await api.graphql(tenant, query)
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "value", [{"name": "A", "website": "unknown field"}, {"name": 3}, {"name": "A", "tier": "PLATINUM"}, {}]
)
async def test_invalid_variable_values_are_bad_user_input(api: Api, tenant: Tenant, value: dict[str, object]) -> None:
    query = "mutation M($input: AccountCreateInput!) { accountCreate(input: $input) { account { id } } }"
    body = await api.graphql(tenant, query, {"input": value})
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"].startswith("Variable '$input' has invalid value")


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"query": 1}', b'"text"', b'{"query": "{ x }", "variables": 3}']
)
async def test_malformed_requests_get_a_clear_error(api: Api, tenant: Tenant, body: bytes) -> None:
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {api.token(tenant)}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_batched_requests_answer_in_order_and_are_bounded(api: Api, tenant: Tenant) -> None:
    headers = {"Authorization": f"Bearer {api.token(tenant)}"}
    batch = [{"query": "{ viewer { roles } }"}, {"query": "{ viewer { tenant { name } } }"}]
    response = await api.client.post("/graphql", json=batch, headers=headers)
    assert [item["data"] for item in response.json()] == [
        {"viewer": {"roles": ["admin"]}},
        {"viewer": {"tenant": {"name": tenant.name}}},
    ]
    too_many = [{"query": "{ viewer { roles } }"}] * (api.settings.max_batch + 1)
    response = await api.client.post("/graphql", json=too_many, headers=headers)
    assert response.status_code == 400


async def test_get_serves_queries_and_graphiql_but_not_mutations(api: Api, tenant: Tenant) -> None:
    headers = {"Authorization": f"Bearer {api.token(tenant)}"}
    response = await api.client.get("/graphql", params={"query": "{ viewer { roles } }"}, headers=headers)
    assert response.json()["data"] == {"viewer": {"roles": ["admin"]}}
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    assert (await api.client.get("/readyz")).json() == {"status": "ok"}
