"""Rapport as a system of the shared benchmark harness (../shared/bench, see bench/README.md).

Found through BENCH_SYSTEMS_PATH=<repo>/bench; runs in the harness's Python, so it imports
nothing from Rapport: the server is Rapport's own uvicorn in Rapport's .venv, on Rapport's own
database (rapport_bench, loaded by prepare_db, see _rapport_db.py) as the application role
rapport_app, so Row-Level Security applies to every request.

Ids: bench integer ids are loaded as uuid.UUID(int=id); the API's global ids are
base64("Type:<uuid>"), so both directions are pure functions (sid/bid).
Tenant: a JWT (HS256) per tenant for the bench admin user that prepare_db creates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import _rapport_db as rdb
import workloads as W

NAME = "rapport"
LABEL = "Rapport strawberry+asyncpg"
ENDPOINT = "/graphql"
PRODUCT_DIR = Path(os.environ.get("CRM_PRODUCT_DIR") or Path(__file__).resolve().parent.parent)

# The bench server gets its own signing secret (and runs with RAPPORT_ENVIRONMENT=prod, which
# refuses the well-known dev secret); the tokens below are signed with the same one.
JWT_SECRET = "rapport-bench-secret-not-for-production-0123456789"  # noqa: S105
SECRETS_KEYS = "bench:YmVuY2gtc2VhbHMtbm8tc2VjcmV0LXdvcnRoLWtlZXA"  # a prod server needs its own
JWT_ISSUER = "rapport"
JWT_AUDIENCE = "rapport-api"
JWT_ISSUED_AT = 1_735_689_600  # 2025-01-01: fixed, so the request files are reproducible
JWT_EXPIRES_AT = 4_102_444_800  # 2100-01-01


def sid(bench_id: int) -> str:
    """Bench integer id -> Rapport's primary key."""
    return str(uuid.UUID(int=bench_id))


def bid(rapport_id: str) -> int:
    """Rapport's primary key -> bench integer id."""
    return uuid.UUID(rapport_id).int


def global_id(type_name: str, bench_id: int) -> str:
    """The API's opaque id (schema/relay.py to_global_id) of a bench row."""
    return base64.b64encode(f"{type_name}:{sid(bench_id)}".encode()).decode()


def from_global_id(value: str) -> int:
    return bid(base64.b64decode(value).decode().partition(":")[2])


UVICORN_ARGS = (
    "backend.app:create_app --factory --host 127.0.0.1 --loop uvloop --http httptools "
    "--no-access-log --log-level warning"
).split()


def command(port: int, procs: int, env: dict[str, str]) -> dict[str, Any]:
    pool = env["POOL_SIZE"]
    return {
        "argv": [
            str(PRODUCT_DIR / ".venv" / "bin" / "uvicorn"),
            *UVICORN_ARGS,
            "--port",
            str(port),
            "--workers",
            str(procs),
        ],
        "cwd": str(PRODUCT_DIR),
        "env": {
            "RAPPORT_ENVIRONMENT": "prod",
            "RAPPORT_DATABASE_URL": rdb.app_dsn(env["APP_DSN"]),
            "RAPPORT_DB_POOL_MIN": pool,
            "RAPPORT_DB_POOL_MAX": pool,
            "RAPPORT_JWT_SECRET": JWT_SECRET,
            "RAPPORT_SECRETS_KEYS": SECRETS_KEYS,
            "RAPPORT_JWT_ISSUER": JWT_ISSUER,
            "RAPPORT_JWT_AUDIENCE": JWT_AUDIENCE,
            # Users exist (prepare_db): a token for an unknown subject is an error, not a write.
            "RAPPORT_AUTH_PROVISION_USERS": "false",
        },
    }


def headers(tenant: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(tenant)}"}


@cache
def token(tenant: int) -> str:
    """HS256 JWT with the claims backend/auth.py requires. Built with the standard library:
    the harness's venv has no PyJWT, and HS256 is one HMAC (Rapport verifies it with PyJWT)."""
    claims = {
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "sub": rdb.BENCH_SUBJECT,
        "tenant": sid(tenant),
        "roles": ["admin"],
        "email": f"{rdb.BENCH_SUBJECT}@tenant-{tenant}.example",
        "iat": JWT_ISSUED_AT,
        "exp": JWT_EXPIRES_AT,
    }
    signing_input = _b64(json.dumps({"alg": "HS256", "typ": "JWT"})) + "." + _b64(json.dumps(claims))
    signature = hmac.new(JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


DOCUMENTS = {
    "account_detail": """query AccountDetail($id: ID!) {
  account(id: $id) {
    id name
    contacts(first: 500) { nodes { id firstName lastName email } }
    recentOrders: orders(first: 5, orderBy: [{field: ORDERED_AT, direction: DESC}]) {
      nodes { id status total { amount } }
    }
  }
}""",
    "account_list": """query AccountList($first: Int!) {
  accounts(first: $first, orderBy: [{field: NAME}]) {
    nodes {
      id name
      contacts(first: 5) { nodes { id firstName lastName email } }
      openTickets: tickets(first: 3, filter: {status: {eq: OPEN}}, orderBy: [{field: CREATED_AT, direction: DESC}]) {
        nodes { id subject priority }
      }
    }
  }
}""",
    "create_ticket": """mutation CreateTicket($input: TicketCreateInput!) {
  ticketCreate(input: $input) { ticket { id status } }
}""",
    "dashboard": """query Dashboard($from: DateTime!, $to: DateTime!) {
  analytics {
    ordersByMonth(from: $from, to: $to) { month orderCount revenue }
    ticketCountsByStatus { status count }
  }
}""",
}
OPERATION_NAMES = {
    "account_detail": "AccountDetail",
    "account_list": "AccountList",
    "create_ticket": "CreateTicket",
    "dashboard": "Dashboard",
}


def variables(workload: str, p: dict[str, Any]) -> dict[str, Any]:
    if workload == "account_detail":
        return {"id": global_id("Account", p["account_id"])}
    if workload == "account_list":
        return {"first": p["first"]}
    if workload == "create_ticket":
        return {
            "input": {
                "accountId": global_id("Account", p["account_id"]),
                "subject": p["subject"],
                "priority": p["priority"].upper(),
            }
        }
    if workload == "dashboard":
        return {"from": p["from"], "to": p["to"]}
    raise KeyError(workload)


def canonical(workload: str, data: dict[str, Any]) -> Any:
    """The response's data in the harness's canonical form: global ids back to bench ids,
    enums (OPEN, DELIVERED) back to the bench's lower-case values, money from `total { amount }`."""
    if workload == "account_detail":
        a = data["account"]
        return W.canon_account_detail(
            None
            if a is None
            else {
                "id": from_global_id(a["id"]),
                "name": a["name"],
                "contacts": [_contact(c) for c in a["contacts"]["nodes"]],
                "orders": [
                    {"id": from_global_id(o["id"]), "status": o["status"].lower(), "total": o["total"]["amount"]}
                    for o in a["recentOrders"]["nodes"]
                ],
            }
        )
    if workload == "account_list":
        return W.canon_account_list(
            [
                {
                    "id": from_global_id(a["id"]),
                    "name": a["name"],
                    "contacts": [_contact(c) for c in a["contacts"]["nodes"]],
                    "openTickets": [
                        {"id": from_global_id(t["id"]), "subject": t["subject"], "priority": t["priority"].lower()}
                        for t in a["openTickets"]["nodes"]
                    ],
                }
                for a in data["accounts"]["nodes"]
            ]
        )
    if workload == "create_ticket":
        created = data["ticketCreate"]
        if created is None or created["ticket"] is None:
            return None
        t = created["ticket"]
        return W.canon_create_ticket({"id": from_global_id(t["id"]), "status": t["status"].lower()})
    if workload == "dashboard":
        d = data["analytics"]
        # Status counts are a set; the canonical form lists them by the lower-case status.
        statuses = sorted(({"status": s["status"].lower(), "count": s["count"]} for s in d["ticketCountsByStatus"]),
                          key=lambda s: s["status"])  # fmt: skip
        return W.canon_dashboard({"ordersByMonth": d["ordersByMonth"], "ticketCountsByStatus": statuses})
    raise KeyError(workload)


def _contact(c: dict[str, Any]) -> dict[str, Any]:
    return {"id": from_global_id(c["id"]), "firstName": c["firstName"], "lastName": c["lastName"], "email": c["email"]}


# ------------------------------------------------------------------ hooks (own database) ----
async def prepare_db(env: dict[str, str]) -> None:
    await rdb.prepare(env, PRODUCT_DIR)


async def check_created(env: dict[str, str], p: dict[str, Any], got: dict[str, Any] | None) -> str | None:
    if got is None or got.get("status") != "open":
        return f"bad response {got!r}"
    return await rdb.check_ticket(env, p, got["id"])


async def cleanup(env: dict[str, str]) -> None:
    deleted = await rdb.delete_created(env)
    if deleted:
        rdb.log(f"cleanup deleted {deleted}")
