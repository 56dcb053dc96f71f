"""Authentication: a bearer credential becomes a `Principal` (tenant, actor, roles).

Two kinds of credentials arrive as `Authorization: Bearer …`:

* people: JWTs. HS256 with the shared secret (development), or RS256/ES256 verified against
  the keys of RAPPORT_JWT_JWKS_URL (cached; a token naming an unknown `kid` refreshes them,
  at most every few seconds). Issuer, audience, expiry (with leeway) are checked. The `tenant`
  claim names the tenant, `sub` the user, who is provisioned on first sign-in when allowed.
* integrators: API keys (`rpk_…`), looked up by SHA-256 through a narrow database function
  and cached briefly; revocation reaches every process within a second (NOTIFY).

Roles come from the tenant's access policy (role bindings of the user or key), not from
the token: a JWT's `roles` claim only seeds a user's bindings on first sign-in (setting
`auth_seed_roles_from_token`), so revoking a role in Rapport is not undone by the identity
provider on the next request.

The tenant of a request comes only from here, never from a client-supplied argument.
Every failure raises `Unauthenticated` with the same message, so a caller learns nothing
about which part of its credential was wrong; failures are counted per source address and a
source that fails too often is refused with `RateLimited` for a while.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

import httpx
import jwt

from backend.api_keys import service as api_keys
from backend.context import Actor, ActorKind, TenantContext
from backend.db import tenant_transaction
from backend.errors import Conflict, RateLimited, Unauthenticated
from backend.listener import ACCESS_CHANNEL, Listener
from backend.settings import Settings
from backend.tenants import service as tenants
from backend.users import service as users

log = logging.getLogger("rapport.auth")

_TOKEN_CACHE_SIZE = 10_000
_USER_CACHE_TTL = 60.0
_KEY_CACHE_TTL = 30.0
_KEY_TOUCH_INTERVAL = 60.0
_JWKS_MIN_REFRESH = 5.0
_JWKS_ALGORITHMS = frozenset({"RS256", "ES256"})


def subject_of(kind: ActorKind, actor_id: UUID) -> str:
    """The actor's name in access policy bindings: `user:<id>` or `api_key:<id>`."""
    return f"{kind.value}:{actor_id}"


class RoleDirectory(Protocol):
    """Where roles come from (access policy); implemented by policies.access.AccessControl."""

    async def roles_of(self, tenant_id: UUID, subject: str) -> frozenset[str]: ...

    async def seed_roles(self, tx: TenantContext, user_id: UUID, roles: frozenset[str]) -> bool:
        """Bind `roles` (those the tenant has) to a user whose roles were never seeded; whether
        it did (the policy changed)."""

    def forget(self, tenant_id: UUID) -> None:
        """Drop what this process cached of the tenant's policy (after a change it committed)."""


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: UUID
    actor: Actor
    subject: str
    expires_at: float | None = None
    team_id: UUID | None = None

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


@dataclass(frozen=True, slots=True)
class _UserRef:
    id: UUID
    team_id: UUID | None


K = TypeVar("K")
V = TypeVar("V")


class _TTLCache(Generic[K, V]):
    """A small LRU whose entries also expire; one per process, no locking (single event loop).

    Entries also remember when they were stored, so a reader can apply a shorter maximum age
    (`Listener.max_age`) while invalidation notifications cannot be trusted.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, tuple[float, float, V]] = OrderedDict()

    def get(self, key: K, now: float, max_age: float = float("inf")) -> V | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        expires_at, stored_at, value = hit
        if expires_at <= now or now - stored_at > max_age:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V, expires_at: float, now: float) -> None:
        self._data[key] = (expires_at, now, value)
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)

    def discard_where(self, predicate: Callable[[V], bool]) -> None:
        for key in [k for k, (_, _, v) in self._data.items() if predicate(v)]:
            del self._data[key]

    def clear(self) -> None:
        self._data.clear()


class FailureLimiter:
    """Failed authentications per source: a bucket of `per_minute` failures, refilled continuously."""

    def __init__(self, per_minute: int, *, size: int = 100_000) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._size = size
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # source -> (tokens, at)

    def _tokens(self, source: str, now: float) -> float:
        tokens, at = self._buckets.get(source, (self._capacity, now))
        return min(self._capacity, tokens + (now - at) * self._rate)

    def retry_after(self, source: str, now: float) -> float:
        """Seconds until `source` may try again (0: it may now)."""
        if self._capacity <= 0 or source not in self._buckets:
            return 0.0
        tokens = self._tokens(source, now)
        return 0.0 if tokens >= 1 else (1 - tokens) / self._rate

    def failed(self, source: str, now: float) -> None:
        if self._capacity <= 0:
            return
        self._buckets[source] = (max(0.0, self._tokens(source, now) - 1), now)
        self._buckets.move_to_end(source)
        if len(self._buckets) > self._size:
            self._buckets.popitem(last=False)


class JwksKeys:
    """Signing keys of an identity provider, fetched from its JWKS URL.

    Cached for `ttl`; a `kid` that is not in the cache triggers a refresh (key rotation at the
    provider), but at most every `min_refresh` seconds, so tokens with made-up kids cannot
    turn Rapport into a request amplifier. Concurrent refreshes share one fetch.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float,
        min_refresh: float = _JWKS_MIN_REFRESH,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = url
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._client = client or httpx.AsyncClient(timeout=5.0)
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        now = time.monotonic()
        if now - self._fetched_at > self._ttl or kid not in self._keys:
            await self._refresh(stale_before=now)
        return self._keys.get(kid)

    async def _refresh(self, *, stale_before: float) -> None:
        async with self._lock:
            if self._fetched_at >= stale_before or time.monotonic() - self._fetched_at < self._min_refresh:
                return  # another request refreshed meanwhile, or we refreshed a moment ago
            try:
                response = await self._client.get(self._url)
                response.raise_for_status()
                keys = self.parse(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
                log.warning("cannot refresh the JWKS from %s: %s", self._url, exc)
                # Keep the keys we have; retry no sooner than the minimum interval.
                self._fetched_at = time.monotonic() - self._ttl + self._min_refresh
                return
            self._keys = keys
            self._fetched_at = time.monotonic()

    async def close(self) -> None:
        await self._client.aclose()

    @staticmethod
    def parse(document: Any) -> dict[str | None, jwt.PyJWK]:
        """The signing keys (RS256, ES256) of a JWKS document, by kid."""
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWKS document")
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in document["keys"]:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK.from_dict(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue  # a key type or curve we do not accept
            if key.algorithm_name in _JWKS_ALGORITHMS:
                keys[entry.get("kid")] = key
        if len(keys) == 1 and None not in keys:
            # Tokens of a provider with a single key may omit `kid`.
            keys[None] = next(iter(keys.values()))
        return keys


class TokenVerifier:
    """Checks people's JWTs: the shared secret (HS256) in development, or the identity
    provider's keys (RS256/ES256 from RAPPORT_JWT_JWKS_URL); issuer, audience, expiry."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._jwks = (
            JwksKeys(settings.jwt_jwks_url, ttl=settings.jwt_jwks_cache_seconds) if settings.jwt_jwks_url else None
        )

    async def verify(self, token: str) -> Claims:
        """The claims of a valid token; Unauthenticated otherwise."""
        settings = self._settings
        try:
            if self._jwks is None:
                key: Any = settings.jwt_secret.get_secret_value()
                algorithms = ["HS256"]
            else:
                header = jwt.get_unverified_header(token)
                algorithm = header.get("alg")
                kid = header.get("kid")
                if algorithm not in _JWKS_ALGORITHMS or not (kid is None or isinstance(kid, str)):
                    raise Unauthenticated()
                found = await self._jwks.key(kid)
                # The key decides the algorithm: a token cannot pick HS256 with a public key.
                if found is None or found.algorithm_name != algorithm:
                    raise Unauthenticated()
                key, algorithms = found, [algorithm]
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                leeway=settings.jwt_leeway_seconds,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "tenant"]},
            )
            roles = payload.get("roles", [])
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise ValueError("roles")
            email, name = payload.get("email"), payload.get("name")
            return Claims(
                tenant_id=UUID(str(payload["tenant"])),
                subject=str(payload["sub"]),
                roles=frozenset(roles),
                email=email if isinstance(email, str) else None,
                name=name if isinstance(name, str) else None,
                expires_at=float(payload["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthenticated() from exc

    async def close(self) -> None:
        if self._jwks is not None:
            await self._jwks.close()


class Authenticator:
    def __init__(self, settings: Settings, *, roles: RoleDirectory, listener: Listener) -> None:
        self._settings = settings
        self._roles = roles
        self._listener = listener
        self._claims: _TTLCache[str, Claims] = _TTLCache(_TOKEN_CACHE_SIZE)
        self._users: _TTLCache[tuple[UUID, str], _UserRef] = _TTLCache(_TOKEN_CACHE_SIZE)
        self._keys: _TTLCache[str, api_keys.Credential] = _TTLCache(_TOKEN_CACHE_SIZE)
        self._generation = 0  # bumped by every invalidation: a lookup racing one is not cached
        self._touched: dict[UUID, float] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._failures = FailureLimiter(settings.auth_failure_limit)
        self._tokens = TokenVerifier(settings)
        listener.subscribe(ACCESS_CHANNEL, self._on_notification)
        listener.on_reset(self._forget_all)

    async def authenticate(self, authorization: str | None, *, source: str | None = None) -> Principal:
        """The principal behind an Authorization header; `source` (client address) is rate-limited."""
        now = time.time()
        if source is not None:
            wait = self._failures.retry_after(source, now)
            if wait > 0:
                raise RateLimited("too many failed authentications: retry later", retryAfter=int(wait) + 1)
        try:
            token = _bearer(authorization)
            if api_keys.looks_like_key(token):
                return await self._api_key(token, now)
            return await self._person(token, now)
        except Unauthenticated:
            if source is not None:
                self._failures.failed(source, now)
            raise

    @property
    def generation(self) -> int:
        """Changes whenever a cached credential may have been revoked (API key, user, or
        notifications missed): holders of long-lived principals re-authenticate then."""
        return self._generation

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self._tokens.close()

    # -- people ----------------------------------------------------------------------------

    async def _person(self, token: str, now: float) -> Principal:
        claims = self._claims.get(token, now)
        if claims is None:
            claims = await self._tokens.verify(token)
            self._claims.put(token, claims, claims.expires_at, now)
        cache_key = (claims.tenant_id, claims.subject)
        user = self._users.get(cache_key, now, self._listener.max_age(_USER_CACHE_TTL))
        if user is None:
            generation = self._generation
            user, seeded = await self._resolve_user(claims)
            if seeded:  # committed: this request must already see the new bindings
                self._roles.forget(claims.tenant_id)
            if generation == self._generation:
                self._users.put(cache_key, user, now + _USER_CACHE_TTL, now)
        subject = subject_of(ActorKind.USER, user.id)
        roles = await self._roles.roles_of(claims.tenant_id, subject)
        return Principal(
            tenant_id=claims.tenant_id,
            actor=Actor(ActorKind.USER, user.id, roles),
            subject=claims.subject,
            expires_at=claims.expires_at,
            team_id=user.team_id,
        )

    async def _resolve_user(self, claims: Claims) -> tuple[_UserRef, bool]:
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
            seeded = False
            if not user.roles_seeded and self._settings.auth_seed_roles_from_token:
                seeded = await self._roles.seed_roles(tx, user.id, claims.roles)
            return _UserRef(user.id, user.team_id), seeded  # type: ignore[attr-defined]  # the FK's source field

    # -- integrators -----------------------------------------------------------------------

    async def _api_key(self, token: str, now: float) -> Principal:
        # Cached by hash, so no plaintext secret lingers in memory longer than its request.
        digest = api_keys.hash_secret(token)
        credential = self._keys.get(digest, now, self._listener.max_age(_KEY_CACHE_TTL))
        if credential is None:
            generation = self._generation
            credential = await api_keys.lookup(digest)
            if credential is None:
                raise Unauthenticated()
            if generation == self._generation:
                expires = credential.expires_at.timestamp() if credential.expires_at else float("inf")
                self._keys.put(digest, credential, min(now + _KEY_CACHE_TTL, expires), now)
        if credential.expires_at is not None and credential.expires_at.timestamp() <= now:
            raise Unauthenticated()
        self._touch(credential, now)
        subject = subject_of(ActorKind.API_KEY, credential.key_id)
        roles = await self._roles.roles_of(credential.tenant_id, subject)
        return Principal(
            tenant_id=credential.tenant_id,
            actor=Actor(ActorKind.API_KEY, credential.key_id, roles),
            subject=subject,
            expires_at=credential.expires_at.timestamp() if credential.expires_at else None,
        )

    def _touch(self, credential: api_keys.Credential, now: float) -> None:
        """Record the key's use, at most once a minute per secret, off the request path."""
        if now - self._touched.get(credential.secret_id, 0.0) < _KEY_TOUCH_INTERVAL:
            return
        self._touched[credential.secret_id] = now
        if len(self._touched) > _TOKEN_CACHE_SIZE:
            self._touched.clear()

        async def write() -> None:
            try:
                async with tenant_transaction(credential.tenant_id) as tx:
                    await api_keys.touch(tx, credential.secret_id)
            except Exception:  # bookkeeping only: never fail or slow down a request over it
                log.warning("could not record the use of API key %s", credential.key_id, exc_info=True)

        task = asyncio.create_task(write())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- invalidation ----------------------------------------------------------------------

    def _on_notification(self, payload: str) -> None:
        kind, _, rest = payload.partition(":")
        if kind == "key":
            self._generation += 1
            self._keys.discard_where(lambda credential: str(credential.key_id) == rest)
        elif kind == "user":
            _, _, user_id = rest.partition(":")
            self._generation += 1
            self._users.discard_where(lambda user: str(user.id) == user_id)

    def _forget_all(self) -> None:
        self._generation += 1
        self._users.clear()
        self._keys.clear()


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
    """A development token signed with the shared secret (HS256), as `backend.cli token` prints.

    `roles` only seed the user's role bindings on first sign-in (see the module docstring).
    """
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
