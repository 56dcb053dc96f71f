"""EXPLAIN of the compiled W1 and W2 statements at bench scale (`make bench` prints it).

    python -m bench._explain        # needs the loaded rapport_bench database (make bench)

Each workload's document is planned exactly as the API plans it, bound for a real tenant and
account of the dataset, and explained with ANALYZE inside a read-only tenant transaction as
the application role (RLS on, generic plans as in production). A sequential scan of a tenant
table is flagged: every read must be an index scan on (tenant_id, ...).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import sys
import uuid
from typing import Any

import asyncpg
from graphql import OperationDefinitionNode, parse
from graphql.execution.values import get_variable_values

from backend.db import connect_kwargs
from schema import schema
from schema.compiler import Compiler

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.environ.get("BENCH_HARNESS", os.path.join(HERE, "..", "..", "shared", "bench"))
sys.path[:0] = [HERE]
sys.path.append(HARNESS)  # rapport.py imports the harness's workloads module
import rapport  # noqa: E402 - the bench system module: its documents are what the harness sends

DSN = os.environ.get("RAPPORT_BENCH_APP_DSN", "postgresql://rapport_app@127.0.0.1:5432/rapport_bench")
TENANT_TABLES = ("accounts", "contacts", "orders", "order_lines", "tickets", "feedback", "products", "users")
ACCOUNT = 1234  # a bench account id; its tenant is (id - 1) % 20 + 1


def _variables(workload: str) -> dict[str, Any]:
    if workload == "account_detail":
        return {"id": base64.b64encode(f"Account:{uuid.UUID(int=ACCOUNT)}".encode()).decode()}
    return {"first": 50}


async def explain(conn: asyncpg.Connection, compiler: Compiler, workload: str) -> bool:
    operation = parse(rapport.DOCUMENTS[workload]).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    coerced = get_variable_values(schema._schema, operation.variable_definitions, _variables(workload))
    assert not isinstance(coerced, list), coerced
    plan = compiler.plan(operation, {}, coerced.coerced, None, {})
    tenant = uuid.UUID(int=(ACCOUNT - 1) % 20 + 1)
    params = plan.bind({"variables": coerced.coerced, "tenant_id": tenant})
    async with conn.transaction(readonly=True):
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + plan.sql, *params)
    text = "\n".join(r[0] for r in rows)
    seq = re.findall(r"Seq Scan on (\w+)", text)
    bad = [t for t in seq if t in TENANT_TABLES]
    print(f"\n### EXPLAIN {workload} (compiled, one statement)\n\n```\n{text}\n```")
    print(f"sequential scans of tenant tables: {', '.join(bad) if bad else 'none'}")
    return not bad


async def main() -> int:
    compiler = Compiler(schema, page_default=50, page_max=500)
    conn = await asyncpg.connect(**connect_kwargs(DSN))
    try:
        ok = [await explain(conn, compiler, w) for w in ("account_detail", "account_list")]
    finally:
        await conn.close()
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
