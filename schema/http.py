"""GraphQL over HTTP: POST (single or batched JSON), GET for queries, GraphiQL in dev."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from strawberry.http.ides import get_graphql_ide_html

from backend.auth import Authenticator
from backend.errors import AppError, BadInput, RateLimited, Unauthenticated
from schema.errors import app_error
from schema.executor import GraphQLExecutor, OperationRequest

MAX_BODY_BYTES = 1 << 20
log = logging.getLogger("rapport.http")

WELCOME_QUERY = """# Rapport GraphQL API.
# Paste the bearer token that `make run` printed into the Headers tab:
#   {"Authorization": "Bearer <token>"}
query Welcome {
  viewer { tenant { name } user { email } roles }
  accounts(first: 10) { nodes { id name industry } }
}
"""


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_Answer = tuple[int, bytes, dict[str, str]]  # status, body, extra headers


class GraphQLEndpoint:
    """`/graphql` as a plain ASGI application in front of the rest of the app.

    Requests to `/graphql` are the hot path: answering them here, without a router and
    middleware stack, saves a noticeable share of a compiled read's CPU. A WebSocket on
    `/graphql` goes to `websocket` (subscriptions); everything else (other paths, lifespan)
    goes to `fallback`.
    """

    def __init__(
        self,
        executor: GraphQLExecutor,
        authenticator: Authenticator,
        fallback: ASGIApp,
        *,
        websocket: ASGIApp | None = None,
    ) -> None:
        self.executor = executor
        self.authenticator = authenticator
        self.fallback = fallback
        self.websocket = websocket
        settings = executor.settings
        self.graphiql = settings.graphiql_enabled
        self.max_batch = settings.max_batch
        self._ide_html = get_graphql_ide_html().replace(
            "parameters.q || EXAMPLE_QUERY", "parameters.q || " + orjson.dumps(WELCOME_QUERY).decode()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/graphql" and self.websocket is not None:
            await self.websocket(scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.fallback(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            status, body, extra = await self._answer(scope, receive, headers)
        except Exception:  # a bug must still answer in GraphQL's shape, without internals
            request_id = uuid.uuid4().hex
            log.exception("unexpected error (request %s)", request_id)
            internal = {"message": "internal error", "extensions": {"code": "INTERNAL", "requestId": request_id}}
            status, body, extra = 500, orjson.dumps({"errors": [internal], "data": None}), {}
        await _send(send, status, body, extra)

    async def _answer(
        self, scope: Scope, receive: Receive, headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        method = scope["method"]
        if method == "POST":
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_BODY_BYTES:
                return _error(BadInput("request body too large", field="body"), 413)
            body = await _read_body(receive)
            if body is None:
                return _error(BadInput("request body too large", field="body"), 413)
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                return _error(BadInput("the body is not valid JSON", field="body"), 400)
            return await self._execute(scope, headers, payload, allow_mutations=True)
        if method == "GET":
            params = {k: v[-1] for k, v in parse_qs(scope["query_string"].decode("latin-1")).items()}
            if "query" not in params:
                if self.graphiql and "text/html" in headers.get("accept", ""):
                    return 200, self._ide_html.encode(), {"content-type": "text/html; charset=utf-8"}
                return _error(BadInput("the request has no query", field="query"), 400)
            query: dict[str, object] = {"query": params["query"], "operationName": params.get("operationName")}
            if "variables" in params:
                try:
                    query["variables"] = orjson.loads(params["variables"])
                except orjson.JSONDecodeError:
                    return _error(BadInput("variables are not valid JSON", field="variables"), 400)
            return await self._execute(scope, headers, query, allow_mutations=False)
        return 405, b"", {"allow": "GET, POST"}

    async def _execute(
        self, scope: Scope, headers: dict[str, str], payload: object, *, allow_mutations: bool
    ) -> _Answer:
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        try:
            batch = isinstance(payload, list)
            items = payload if isinstance(payload, list) else [payload]
            if batch and not 1 <= len(items) <= self.max_batch:
                raise BadInput(f"a batch holds 1 to {self.max_batch} operations", field="body")
            operations = [OperationRequest.from_payload(item) for item in items]
            client = scope.get("client")
            principal = await self.authenticator.authenticate(
                headers.get("authorization"), source=client[0] if client else None
            )
        except Unauthenticated as exc:
            return _error(exc, 401, {"www-authenticate": "Bearer"})
        except RateLimited as exc:
            return _error(exc, 429, {"retry-after": str(exc.extensions.get("retryAfter", 1))})
        except AppError as exc:
            return _error(exc, 400)
        parts = [
            await self.executor.run(principal, op, request_id=request_id, allow_mutations=allow_mutations)
            for op in operations
        ]
        body = b"[" + b",".join(parts) + b"]" if batch else parts[0]
        return 200, body, {"x-request-id": request_id}


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None when it exceeds MAX_BODY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, extra: dict[str, str]) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if "content-type" not in extra:
        headers.append((b"content-type", b"application/json"))
    headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in extra.items())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _error(exc: AppError, status: int, headers: dict[str, str] | None = None) -> _Answer:
    return status, orjson.dumps({"errors": app_error(exc), "data": None}), headers or {}
