"""What access control adds to a request, measured in-process on the bench's documents.

    .venv/bin/python bench/access_overhead.py

Prints microseconds per call for the per-request work (field check on a cached document,
record scopes of the compiled path) and for what only happens after a policy change (a new
tenant snapshot, the first decision on a document). No database: the tenant's policy is the
default roles, built in memory, and the principal is bound to one role.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from backend.auth import Principal
from backend.context import Actor, ActorKind
from policies.adapter import BindingRow, GrantRow, PolicyRows, RoleRow, ScopeRow
from policies.catalog import Catalog
from policies.defaults import DEFAULT_ROLES
from policies.enforcer import TenantPolicy
from policies.field_check import check, compile_plan
from policies.scopes import scope_for
from schema import schema

W1 = """query AccountDetail($id: ID!) { account(id: $id) { id name
  contacts(first: 500) { nodes { id firstName lastName email } }
  recentOrders: orders(first: 5, orderBy: [{field: ORDERED_AT, direction: DESC}]) {
    nodes { id status total { amount } } } } }"""
W2 = """query AccountList($first: Int!) { accounts(first: $first, orderBy: [{field: NAME}]) { nodes { id name
  contacts(first: 5) { nodes { id firstName lastName email } }
  openTickets: tickets(first: 3, filter: {status: {eq: OPEN}}, orderBy: [{field: CREATED_AT, direction: DESC}]) {
    nodes { id subject priority } } } } }"""


def per_call(fn: Callable[[], object], seconds: float = 0.5) -> float:
    """Microseconds per call (best of three runs of about `seconds`)."""
    best = float("inf")
    for _ in range(3):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            fn()
            calls += 1
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def policy(catalog: Catalog, subject: str, role: str) -> TenantPolicy:
    rows = PolicyRows(
        version=1,
        roles=tuple(RoleRow(uuid.uuid4(), r.name, r.description) for r in DEFAULT_ROLES),
        grants=tuple(GrantRow(r.name, *g) for r in DEFAULT_ROLES for g in r.grants),
        scopes=tuple(ScopeRow(r.name, *s) for r in DEFAULT_ROLES for s in r.scopes),
        bindings=(BindingRow(role, subject),),
    )
    return TenantPolicy(uuid.uuid4(), rows, catalog)


def main() -> None:
    catalog = Catalog(schema._schema)
    user = uuid.uuid4()
    principal = Principal(uuid.uuid4(), Actor(ActorKind.USER, user), "bench")
    subject = f"user:{user}"
    print(f"{'':34}{'W1 account_detail':>20}{'W2 account_list':>18}")
    for role in ("admin", "sales", "viewer"):
        rows: dict[str, list[float]] = {}
        for source in (W1, W2):
            document = parse(source)
            operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
            fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
            snapshot = policy(catalog, subject, role)
            plan = compile_plan(catalog, operation, fragments)
            roles = snapshot.roles_of(subject)
            start = time.perf_counter()
            check(snapshot, roles, plan, {})
            first = (time.perf_counter() - start) * 1e6
            rows.setdefault("field check, cached document", []).append(
                per_call(lambda s=snapshot, p=plan, r=roles: check(s, r, p, {}))
            )
            # What the executor does per compiled request: the scope, and its key for the plan cache.
            rows.setdefault("record scopes, compiled path", []).append(
                per_call(lambda s=snapshot: scope_for(s, principal, "read").key)
            )
            rows.setdefault("first decision after a change", []).append(first)
            rows.setdefault("plan of a new document", []).append(
                per_call(lambda o=operation, f=fragments: compile_plan(catalog, o, f))
            )
        print(f"role {role}")
        for label, values in rows.items():
            print(f"  {label:32}{values[0]:>17.1f} µs{values[1]:>15.1f} µs")
    build = per_call(lambda: policy(catalog, subject, "sales"), seconds=1.0)
    print(f"new tenant snapshot (default roles): {build / 1000:.2f} ms")


if __name__ == "__main__":
    main()
