"""What every resolver receives as `info.context`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.auth import Principal
from backend.context import TenantContext
from backend.events.hub import EventHub
from backend.query.sql import Scope
from backend.settings import Settings
from policies.enforcer import TenantPolicy


@dataclass(frozen=True, slots=True)
class Live:
    """What a subscription's resolvers need besides the request: the process's event hub and
    how to tell that it receives live events now (the socket handles the client's next message
    only then, so a client that sends `ping` after `subscribe` knows from the `pong` that
    nothing it does later is missed)."""

    hub: EventHub
    on_live: Callable[[], object]


@dataclass(slots=True)
class Context:
    principal: Principal
    tx: TenantContext
    settings: Settings
    request_id: str
    # Record scope (access control) ANDed into every read; None sees every row of the tenant.
    scope: Scope | None = None
    # The tenant's access policy the request was checked against (write scopes, admin API).
    policy: TenantPolicy | None = None
    # Per-request DataLoaders, created on first use and keyed by the loader's own key.
    loaders: dict[Any, Any] = field(default_factory=dict)
    # Subscriptions only; their resolvers replace `tx` and `loaders` for every event delivered.
    live: Live | None = None
