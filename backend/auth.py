"""Authentication: a bearer credential becomes a `Principal` (tenant, actor, roles).

The tenant of a request comes only from here, never from a client-supplied argument.
Every failure raises `Unauthenticated` with the same message, so a caller learns nothing
about which part of its credential was wrong.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

import jwt

from backend.context import Actor, ActorKind
from backend.db import tenant_transaction
from backend.errors import Conflict, Unauthenticated
from backend.settings import Settings
from backend.tenants import service as tenants
from backend.users import service as users

_TOKEN_CACHE_SIZE = 10_000
_USER_CACHE_TTL = 60.0


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: UUID
    actor: Actor
    subject: str
    expires_at: float | None = None

    @property
    def roles(self) -> frozenset[str]:
        return self.actor.roles


@dataclass(frozen=True, slots=True)
class Claims:
    tenant_id: UUID
    subject: str
    roles: frozenset[str]
    email: str | None
    name: str | None
    expires_at: float


K = TypeVar("K")
V = TypeVar("V")


class _TTLCache(Generic[K, V]):
    """A small LRU whose entries also expire; one per process, no locking (single event loop)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K, now: float) -> V | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        if hit[0] <= now:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return hit[1]

    def put(self, key: K, value: V, expires_at: float) -> None:
        self._data[key] = (expires_at, value)
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._claims: _TTLCache[str, Claims] = _TTLCache(_TOKEN_CACHE_SIZE)
        self._users: _TTLCache[tuple[UUID, str], UUID] = _TTLCache(_TOKEN_CACHE_SIZE)

    async def authenticate(self, authorization: str | None) -> Principal:
        token = _bearer(authorization)
        now = time.time()
        claims = self._claims.get(token, now)
        if claims is None:
            claims = self._verify(token)
            self._claims.put(token, claims, claims.expires_at)
        user_id = self._users.get((claims.tenant_id, claims.subject), now)
        if user_id is None:
            user_id = await self._resolve_user(claims)
            self._users.put((claims.tenant_id, claims.subject), user_id, now + _USER_CACHE_TTL)
        return Principal(
            tenant_id=claims.tenant_id,
            actor=Actor(ActorKind.USER, user_id, claims.roles),
            subject=claims.subject,
            expires_at=claims.expires_at,
        )

    def _verify(self, token: str) -> Claims:
        settings = self._settings
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                settings.jwt_secret.get_secret_value(),
                algorithms=["HS256"],
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                leeway=settings.jwt_leeway_seconds,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "tenant"]},
            )
            roles = payload.get("roles", [])
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise ValueError("roles")
            return Claims(
                tenant_id=UUID(str(payload["tenant"])),
                subject=str(payload["sub"]),
                roles=frozenset(roles),
                email=payload.get("email"),
                name=payload.get("name"),
                expires_at=float(payload["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthenticated() from exc

    async def _resolve_user(self, claims: Claims) -> UUID:
        async with tenant_transaction(claims.tenant_id) as tx:
            user = await users.find_by_subject(tx, claims.subject)
            if user is None:
                if not self._settings.auth_provision_users or not claims.email:
                    raise Unauthenticated()
                if not await tenants.exists(tx):
                    raise Unauthenticated()
                try:
                    user = await users.provision(
                        tx, external_id=claims.subject, email=claims.email, name=claims.name or ""
                    )
                except Conflict:
                    raise Unauthenticated() from None
            if not user.is_active:
                raise Unauthenticated()
            return user.id


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    return token.strip()


def issue_token(
    settings: Settings,
    *,
    tenant_id: UUID,
    subject: str,
    roles: list[str],
    email: str | None = None,
    name: str | None = None,
    ttl_seconds: int = 3600 * 12,
) -> str:
    """A development token signed with the shared secret (HS256), as `backend.cli token` prints."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": subject,
        "tenant": str(tenant_id),
        "roles": roles,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if email:
        payload["email"] = email
    if name:
        payload["name"] = name
    return jwt.encode(payload, settings.jwt_secret.get_secret_value(), algorithm="HS256")
