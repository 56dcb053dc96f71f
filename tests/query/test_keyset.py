"""Keyset pagination against an independent oracle: Python's sort with the same NULL rules.

Random rows (duplicate and NULL sort values on purpose), random orderings, random page
sizes: walking the pages forward and backward must visit every row exactly once, in order.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.db import tenant_transaction
from backend.query import reads
from backend.query.entities import entity
from backend.query.reads import PageRequest
from backend.query.sql import Ordering, SortKey
from tenants.provisioning import provision_tenant

ACCOUNTS = entity("Account")
names = st.text(alphabet="abc", min_size=1, max_size=2)
industries = st.one_of(st.none(), st.sampled_from(["x", "y", "z"]))
rows_strategy = st.lists(st.tuples(names, industries), min_size=0, max_size=25)
orderings = st.lists(
    st.tuples(st.sampled_from(["name", "industry"]), st.booleans()), min_size=0, max_size=2, unique_by=lambda k: k[0]
)


def oracle(rows: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[uuid.UUID]:
    """ASC puts NULLs last, DESC first (Postgres' defaults); the id follows the last key's direction."""
    ordered = sorted(rows, key=lambda r: r["id"], reverse=keys[-1][1] if keys else False)
    for column, descending in reversed(keys):

        def nulls_last(row: dict[str, Any], column: str = column) -> tuple[bool, str]:
            return (row[column] is None, row[column] or "")

        ordered.sort(key=nulls_last, reverse=descending)
    return [r["id"] for r in ordered]


async def _walk(tenant_id: uuid.UUID, ordering: Ordering, size: int, *, backward: bool) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []
    cursor = None
    async with tenant_transaction(tenant_id, readonly=True) as tx:
        for _ in range(100):
            request = PageRequest.from_args(
                ordering,
                None,
                first=None if backward else size,
                last=size if backward else None,
                after=None if backward else cursor,
                before=cursor if backward else None,
                default=50,
                maximum=500,
            )
            page = await reads.page(tx, ACCOUNTS, request)
            ids = [row["id"] for row in page.rows]
            seen = ids + seen if backward else seen + ids
            if not page.has_more:
                return seen
            cursor = page.rows[0]["__cursor"] if backward else page.rows[-1]["__cursor"]
    raise AssertionError("pagination did not end")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, keys=orderings, size=st.integers(min_value=1, max_value=7))
async def test_pages_visit_every_row_once_in_order(
    app_db: None, rows: list[tuple[str, str | None]], keys, size
) -> None:
    tenant = await provision_tenant(f"Keyset {uuid.uuid4().hex[:8]}")
    data = [{"id": uuid.uuid4(), "name": name, "industry": industry} for name, industry in rows]
    async with tenant_transaction(tenant.id) as tx:
        for row in data:
            await tx.execute(
                "INSERT INTO accounts (tenant_id, id, name, industry) VALUES ($1, $2, $3, $4)",
                tenant.id,
                row["id"],
                row["name"],
                row["industry"],
            )
    ordering = Ordering(tuple(SortKey(column, descending) for column, descending in keys))
    expected = oracle(data, keys)
    assert await _walk(tenant.id, ordering, size, backward=False) == expected
    assert await _walk(tenant.id, ordering, size, backward=True) == expected
