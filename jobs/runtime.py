"""What actors run on inside a worker process (`python -m backend.cli worker`).

Actors are Dramatiq's ordinary (thread) actors, but the work is async (asyncpg, httpx): each
actor hands its coroutine to the worker's one event loop, where the database pool, the
notification listener and the access policies live, and waits for it. So there is one pool
per process, shared by every worker thread, as in the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from backend.context import Actor, ActorKind
from backend.settings import Settings
from backend.webhooks.service import Readable
from backend.webhooks.transport import Allowlist

T = TypeVar("T")
JOB = Actor(ActorKind.JOB)  # who acts in jobs' transactions (events and audit entries say so)


@dataclass(frozen=True, slots=True)
class Runtime:
    loop: asyncio.AbstractEventLoop
    settings: Settings
    # The field policy, injected by the composition root (jobs do not import policies/).
    readable: Readable
    allow: Allowlist


_current: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    global _current  # noqa: PLW0603 - one runtime per worker process, set at start-up
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("actors run inside a worker: python -m backend.cli worker")
    return _current


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on the worker's event loop and wait for it (from a worker thread)."""
    return asyncio.run_coroutine_threadsafe(coroutine, current().loop).result()
