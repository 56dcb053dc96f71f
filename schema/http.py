"""GraphQL over HTTP: POST (single or batched JSON), GET for queries, GraphiQL in dev."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.http.ides import get_graphql_ide_html

from backend.auth import Authenticator
from backend.errors import AppError, BadInput, Unauthenticated
from schema.errors import app_error
from schema.executor import GraphQLExecutor, OperationRequest

MAX_BODY_BYTES = 1 << 20
_JSON = "application/json"

WELCOME_QUERY = """# Rapport GraphQL API.
# Paste the bearer token that `make run` printed into the Headers tab:
#   {"Authorization": "Bearer <token>"}
query Welcome {
  viewer { tenant { name } user { email } roles }
  accounts(first: 10) { nodes { id name industry } }
}
"""


class GraphQLEndpoint:
    def __init__(self, executor: GraphQLExecutor, authenticator: Authenticator) -> None:
        self.executor = executor
        self.authenticator = authenticator
        settings = executor.settings
        self.graphiql = settings.graphiql_enabled
        self.max_batch = settings.max_batch
        self._ide_html = get_graphql_ide_html().replace(
            "parameters.q || EXAMPLE_QUERY", "parameters.q || " + orjson.dumps(WELCOME_QUERY).decode()
        )

    async def handle(self, request: Request) -> Response:
        handler: Callable[[Request], Awaitable[Response]]
        if request.method == "POST":
            handler = self._post
        elif request.method == "GET":
            handler = self._get
        else:
            return Response(status_code=405, headers={"Allow": "GET, POST"})
        return await handler(request)

    async def _get(self, request: Request) -> Response:
        if "query" not in request.query_params:
            if self.graphiql and "text/html" in request.headers.get("accept", ""):
                return HTMLResponse(self._ide_html)
            return _error_response(BadInput("the request has no query", field="query"), 400)
        params = request.query_params
        payload: dict[str, object] = {"query": params["query"], "operationName": params.get("operationName")}
        if "variables" in params:
            try:
                payload["variables"] = orjson.loads(params["variables"])
            except orjson.JSONDecodeError:
                return _error_response(BadInput("variables are not valid JSON", field="variables"), 400)
        return await self._execute(request, payload, allow_mutations=False)

    async def _post(self, request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _error_response(BadInput("request body too large", field="body"), 413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error_response(BadInput("request body too large", field="body"), 413)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error_response(BadInput("the body is not valid JSON", field="body"), 400)
        return await self._execute(request, payload, allow_mutations=True)

    async def _execute(self, request: Request, payload: object, *, allow_mutations: bool) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        try:
            batch = isinstance(payload, list)
            items = payload if isinstance(payload, list) else [payload]
            if batch and not 1 <= len(items) <= self.max_batch:
                raise BadInput(f"a batch holds 1 to {self.max_batch} operations", field="body")
            operations = [OperationRequest.from_payload(item) for item in items]
            principal = await self.authenticator.authenticate(request.headers.get("authorization"))
        except Unauthenticated as exc:
            return _error_response(exc, 401, {"WWW-Authenticate": "Bearer"})
        except AppError as exc:
            return _error_response(exc, 400)
        parts = [
            await self.executor.run(principal, op, request_id=request_id, allow_mutations=allow_mutations)
            for op in operations
        ]
        body = b"[" + b",".join(parts) + b"]" if batch else parts[0]
        return Response(body, media_type=_JSON, headers={"X-Request-Id": request_id})


def _error_response(exc: AppError, status: int, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps({"errors": app_error(exc), "data": None})
    return Response(body, status_code=status, media_type=_JSON, headers=headers)
