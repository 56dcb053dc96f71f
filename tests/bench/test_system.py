"""bench/rapport.py (the benchmark harness's system module) still fits the API it drives.

The module runs in the shared harness's Python, outside this code base; these tests load it
here to catch drift early: its tokens must pass Rapport's authentication with the settings it
starts the server with, its ids must be the API's global ids, and its four documents must be
valid against the schema.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest
from graphql import parse, validate

from backend.auth import TokenVerifier
from backend.errors import Unauthenticated
from backend.settings import load_settings
from schema import schema
from schema.relay import from_global_id, to_global_id

ROOT = Path(__file__).resolve().parent.parent.parent
HARNESS = Path(os.environ.get("BENCH_HARNESS", ROOT.parent / "shared" / "bench"))


@pytest.fixture(scope="module")
def system() -> ModuleType:
    if not (HARNESS / "workloads.py").exists():
        pytest.skip(f"the benchmark harness is not at {HARNESS} (set BENCH_HARNESS)")
    sys.path[:0] = [str(ROOT / "bench"), str(HARNESS)]
    try:
        spec = importlib.util.spec_from_file_location("bench_rapport", ROOT / "bench" / "rapport.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        del sys.path[:2]


async def test_tokens_authenticate_with_the_server_settings(system: ModuleType) -> None:
    env = system.command(8900, 1, {"APP_DSN": "postgresql://bench_app@127.0.0.1:5432/bench_crm", "POOL_SIZE": "10"})[
        "env"
    ]
    settings = load_settings(**{k.removeprefix("RAPPORT_").lower(): v for k, v in env.items()})
    assert settings.database_url == "postgresql://rapport_app@127.0.0.1:5432/rapport_bench"
    claims = await TokenVerifier(settings).verify(system.headers(7)["Authorization"].removeprefix("Bearer "))
    assert claims.tenant_id == uuid.UUID(int=7)
    assert claims.subject == "bench-admin"
    assert claims.roles == frozenset({"admin"})
    # Signed with the bench's own secret, not the dev default: a dev server refuses it.
    with pytest.raises(Unauthenticated):
        await TokenVerifier(load_settings()).verify(system.token(7))


def test_ids_are_the_api_global_ids(system: ModuleType) -> None:
    for bench_id in (1, 40_000, 2_000_000):
        pk = uuid.UUID(int=bench_id)
        assert system.global_id("Ticket", bench_id) == to_global_id("Ticket", pk)
        assert from_global_id(system.global_id("Ticket", bench_id)) == ("Ticket", pk)
        assert system.from_global_id(to_global_id("Account", pk)) == bench_id


@pytest.mark.parametrize("workload", ["account_detail", "account_list", "create_ticket", "dashboard"])
def test_documents_are_valid_against_the_schema(system: ModuleType, workload: str) -> None:
    assert validate(schema._schema, parse(system.DOCUMENTS[workload])) == []
