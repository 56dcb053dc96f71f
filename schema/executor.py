"""One GraphQL operation, from source text to response bytes.

    cached parse + validation -> depth/alias limits -> cost -> field policy -> tenant transaction
    -> compiled statement (schema/compiler.py) or, for what it cannot plan, the Strawberry executor

The field policy check (policies/access.py) refuses an operation that touches a field the
caller may not, before any SQL, on both paths (compiled statement and executor); the record
scopes it returns are ANDed into every read.

Queries run in a read-only REPEATABLE READ transaction (one snapshot for every loader);
a mutation operation runs in one read-write transaction and is rolled back entirely if any
of its fields fails, so a response never reports half-written data. A create that needs
nothing read before its INSERT is that transaction in one statement: settings, INSERT and
payload (`_plain`; Postgres commits it when the statement ends, or writes nothing).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
import strawberry
from graphql import (
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    create_source_event_stream,
    execute,
    located_error,
    map_source_to_response_event,
)
from graphql.execution.executor_throwing_on_incremental import ExecutorThrowingOnIncremental
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.utils.await_maybe import await_maybe

from backend import idempotency
from backend.auth import Principal
from backend.context import TenantContext
from backend.custom_fields import service as custom_fields
from backend.db import read_one, tenant_transaction
from backend.errors import AccessChanged, AppError, BadInput, Conflict
from backend.settings import Environment, Settings
from policies.access import AccessControl
from policies.admin import actor_roles
from policies.enforcer import TenantPolicy
from schema.compiler import Compiler, NotCompilable, Plan, WritePlan, variable_shape
from schema.context import Context, Live
from schema.documents import DocumentCache, PreparedDocument
from schema.errors import format_errors, log
from schema.events.broadcast import Channel, Channels, execute_event, shared_field
from schema.idempotency import KeyedField, keyed_fields
from schema.limits import check_cost, check_shape, estimate_cost, list_sizes


@dataclass(frozen=True, slots=True)
class OperationRequest:
    query: str
    variables: dict[str, Any]
    operation_name: str | None

    @classmethod
    def from_payload(cls, payload: object) -> OperationRequest:
        if not isinstance(payload, dict):
            raise BadInput("a GraphQL request is a JSON object", field="body")
        query = payload.get("query")
        if not isinstance(query, str) or not query.strip():
            raise BadInput("the request has no query", field="query")
        variables = payload.get("variables") or {}
        if not isinstance(variables, dict):
            raise BadInput("variables must be a JSON object", field="variables")
        name = payload.get("operationName") or None
        if name is not None and not isinstance(name, str):
            raise BadInput("operationName must be a string", field="operationName")
        return cls(query, variables, name)


class _Rollback(Exception):
    def __init__(self, result: ExecutionResult) -> None:
        self.result = result


class GraphQLExecutor:
    def __init__(self, schema: strawberry.Schema, settings: Settings, access: AccessControl) -> None:
        self.schema = schema
        self.access = access
        self.graphql_schema = schema._schema
        self.settings = settings
        self.documents = DocumentCache(
            self.graphql_schema, max_tokens=settings.max_tokens, introspection=settings.introspection_enabled
        )
        self._executor_kwargs = execution_context_class_kwargs(schema.execution_context_class)
        # Development mode reports in `extensions.plan` which path answered and how many statements ran.
        self.explain = settings.environment is Environment.DEV
        self.list_sizes = list_sizes(schema)
        self.compiler = Compiler(schema, page_default=settings.page_default, page_max=settings.page_max)
        self.channels = Channels()

    async def run(
        self,
        principal: Principal,
        request: OperationRequest,
        *,
        request_id: str,
        allow_mutations: bool = True,
        compiled: bool = True,
    ) -> bytes:
        """Execute one operation and return the encoded response object."""
        extensions: dict[str, Any] = {}
        try:
            prepared = self.documents.get(request.query)
            if prepared.errors:
                return _encode(None, format_errors(prepared.errors, request_id), extensions)
            operation = prepared.operation(request.operation_name)
            if operation.operation is OperationType.SUBSCRIPTION:
                raise GraphQLError("subscriptions are served over WebSocket at this URL")
            if operation.operation is OperationType.MUTATION and not allow_mutations:
                raise GraphQLError("mutations must be sent with POST")
            policy = await self._admit(principal, prepared, operation, request, extensions)
        except GraphQLError as error:
            return _encode(None, format_errors([error], request_id), extensions)
        except AppError as error:
            return _encode(None, _app_errors(error, request_id), extensions)

        assert prepared.document is not None
        readonly = operation.operation is OperationType.QUERY
        write: _Write | None = None
        found = None
        if compiled:
            planner = self.compiler.plan if readonly else self.compiler.plan_write
            found = await self._plan(principal, policy, prepared, operation, request, planner)
        if found is not None and readonly:
            answer = await self._compiled(principal, *found, request_id, extensions)
            if answer is not None:
                return answer
        elif found is not None:
            write = self._write(principal, *found)
        try:
            keyed: list[KeyedField] = []
            if operation.operation is OperationType.MUTATION:
                fields, keyed = keyed_fields(operation, prepared.fragments, request.variables)
                if len({k.key for k in keyed}) != len(keyed):
                    raise BadInput("each mutation of an operation needs its own idempotencyKey", field="idempotencyKey")
            if (
                write is not None
                and write.plan.plain is not None
                and not keyed
                and not self.access.checks_before_commit(prepared, operation)
            ):
                answer = await self._plain(principal, write, request_id, extensions)
                if answer is not None:
                    self.access.after_commit(principal.tenant_id, prepared, operation)
                    return answer
            async with tenant_transaction(
                principal.tenant_id,
                actor=principal.actor,
                readonly=readonly,
                request_id=request_id,
                count_statements=self.explain,
            ) as tx:
                if keyed:
                    replayed = await self._replay(tx, keyed, len(fields))
                    if replayed is not None:
                        return _encode(replayed, None, extensions)
                context = self._context(principal, tx, request_id, policy)
                if write is not None:
                    result = await write.run(context)
                else:
                    result = await await_maybe(
                        execute(
                            self.graphql_schema,
                            prepared.document,
                            context_value=context,
                            variable_values=request.variables,
                            operation_name=request.operation_name,
                            **self._executor_kwargs,
                        )
                    )
                assert isinstance(result, ExecutionResult)
                if result.errors and not readonly:
                    raise _Rollback(result)
                if not readonly:
                    await self.access.before_commit(tx, prepared, operation)
                for item in keyed:
                    assert result.data is not None
                    await idempotency.remember(tx, item.key, result.data[item.response_key])
                if self.explain:
                    await asyncio.sleep(0)  # asyncpg calls query loggers soon after a statement: count the last
                    path = "compiled" if write is not None else "executor"
                    extensions["plan"] = {"path": path, "statements": tx.statements}
        except _Rollback as rollback:
            return _encode(None, format_errors(list(rollback.result.errors or ()), request_id), extensions)
        except AppError as error:
            return _encode(None, _app_errors(error, request_id), extensions)
        if not readonly:
            self.access.after_commit(principal.tenant_id, prepared, operation)
        errors = format_errors(list(result.errors), request_id) if result.errors else None
        return _encode(result.data, errors, extensions)

    async def subscribe(
        self, principal: Principal, request: OperationRequest, *, request_id: str, live: Live, shared: bool = False
    ) -> AsyncIterator[ExecutionResult] | Channel | list[dict[str, Any]]:
        """Start a subscription: its response stream, or the errors that refused it (the same
        limits and field policy as a query, checked before anything runs). With `shared`, a
        subscription whose messages are the same for every subscriber of its tenant and
        document is served through their channel instead (schema/events/broadcast.py).

        The stream's resolvers open a transaction per event (schema/events/subscriptions.py);
        the one here only serves the start."""
        try:
            prepared = self.documents.get(request.query)
            if prepared.errors:
                return format_errors(prepared.errors, request_id)
            operation = prepared.operation(request.operation_name)
            if operation.operation is not OperationType.SUBSCRIPTION:
                raise GraphQLError("only subscriptions are streamed; send queries and mutations over HTTP")
            policy = await self._admit(principal, prepared, operation, request, {})
        except GraphQLError as error:
            return format_errors([error], request_id)
        except AppError as error:
            return _app_errors(error, request_id)
        assert prepared.document is not None
        field = shared_field(operation, prepared.fragments) if shared else None
        channel_key: tuple[Any, ...] = ()
        if field is not None and not self.access.scope(policy, principal, "read").key:
            variables = orjson.dumps(request.variables, option=orjson.OPT_SORT_KEYS)
            # Subscribers with the same roles read the same fields of an event (`changedFields`).
            roles = actor_roles(principal.actor, policy)
            channel_key = (principal.tenant_id, roles, request.query, request.operation_name, variables)
            channel = self.channels.get(channel_key)
            if channel is not None:
                return channel
        async with tenant_transaction(
            principal.tenant_id, actor=principal.actor, readonly=True, request_id=request_id
        ) as tx:
            context = self._context(principal, tx, request_id, policy, live)
            executor_class = self._executor_kwargs.get("executor_class", ExecutorThrowingOnIncremental)
            built = executor_class.build(
                self.graphql_schema, prepared.document, None, context, request.variables, request.operation_name
            )
            if isinstance(built, list):
                return format_errors(built, request_id)
            if channel_key:
                assert field is not None
                return self.channels.add(channel_key, built, field)
            source: Any = await await_maybe(create_source_event_stream(built))
        if isinstance(source, ExecutionResult):
            return format_errors(list(source.errors or ()), request_id)
        return map_source_to_response_event(built, source, execute_event)

    def _context(
        self, principal: Principal, tx: TenantContext, request_id: str, policy: TenantPolicy, live: Live | None = None
    ) -> Context:
        return Context(
            principal=principal,
            tx=tx,
            settings=self.settings,
            request_id=request_id,
            scope=self.access.scope(policy, principal, "read"),
            policy=policy,
            live=live,
        )

    async def access_key(self, principal: Principal) -> tuple[Any, ...]:
        """What a running subscription's deliveries depend on besides its field check, under the
        current policy: the subscriber's roles (shared channels) and record scope (filtered
        streams), both fixed when it starts."""
        policy = await self.access.policy(principal.tenant_id)
        return actor_roles(principal.actor, policy), self.access.scope(policy, principal, "read").key

    async def still_admits(
        self, principal: Principal, request: OperationRequest, access_key: tuple[Any, ...]
    ) -> list[dict[str, Any]] | None:
        """None when a running operation (a subscription) that started with `access_key` may go
        on under the current policy; otherwise the errors that end it: FORBIDDEN with the paths
        now denied, or ACCESS_CHANGED when the subscriber's roles or record scope changed (it
        is then started again, with `after`, to see what it now may)."""
        try:
            prepared = self.documents.get(request.query)
            await self._admit(principal, prepared, prepared.operation(request.operation_name), request, {})
            if await self.access_key(principal) != access_key:
                raise AccessChanged("your access changed: subscribe again (resume with `after`)")
        except GraphQLError as error:
            return format_errors([error], "")
        except AppError as error:
            return _app_errors(error, "")
        return None

    async def _admit(
        self,
        principal: Principal,
        prepared: PreparedDocument,
        operation: OperationDefinitionNode,
        request: OperationRequest,
        extensions: dict[str, Any],
    ) -> TenantPolicy:
        """Depth, aliases, cost and field policy: raises unless the operation may run; returns
        the policy snapshot it was checked against."""
        name = operation.name.value if operation.name else None
        settings = self.settings
        check_shape(prepared.shapes[name], max_depth=settings.max_depth, max_aliases=settings.max_aliases)
        cost_key = ("cost", name, _page_sizes(request.variables))
        cost = prepared.memo.get(cost_key)
        if cost is None:
            cost = estimate_cost(
                self.graphql_schema,
                operation,
                prepared.fragments,
                request.variables,
                page_default=settings.page_default,
                page_max=settings.page_max,
                sizes=self.list_sizes,
            )
            _remember(prepared, cost_key, cost)
        extensions["cost"] = cost
        check_cost(cost, settings.max_cost)
        return await self.access.check(principal, prepared, operation, request.variables)

    async def _compiled(
        self, principal: Principal, plan: Plan, variables: VariableValues, request_id: str, extensions: dict[str, Any]
    ) -> bytes | None:
        """The response from one compiled statement, or None when the executor must answer."""
        try:
            params = plan.bind(_env(principal, variables.coerced))
        except (AppError, ValueError):
            return None  # a bad argument value: the executor reports it with its path
        try:
            data: str = await read_one(principal.tenant_id, principal.actor, request_id, plan.sql, params)
        except asyncpg.PostgresError:
            log.exception("compiled statement failed (request %s); the executor answers", request_id)
            return None
        return self._answered(data, extensions)

    async def _plain(
        self, principal: Principal, write: _Write, request_id: str, extensions: dict[str, Any]
    ) -> bytes | None:
        """A create that is one INSERT, run with its payload as one statement: the whole
        transaction in one round trip. None when this input needs reads first (the
        transaction path answers it)."""
        plan = write.plan
        assert plan.plain is not None
        try:
            plain = plan.plain.write(principal.tenant_id, write.arguments)
            if plain is None:
                return None
            params = plan.plain.payload.bind({**write.env, "arguments": write.arguments})
            payload: str = await plain.run(
                principal.tenant_id, principal.actor, request_id, plan.plain.payload.sql, params
            )
        except Exception as exc:  # reported as the executor reports a resolver's error
            errors = [located_error(exc, [plan.field], [plan.key])]
            return _encode(None, format_errors(errors, request_id), extensions)
        return self._answered(f'{{"{plan.key}":{payload}}}', extensions)

    def _answered(self, data: str, extensions: dict[str, Any]) -> bytes:
        """The response of one compiled statement: the JSON text Postgres built is its data."""
        if self.explain:
            extensions["plan"] = {"path": "compiled", "statements": 1}
        return b'{"data":' + data.encode() + b',"extensions":' + orjson.dumps(extensions) + b"}"

    @staticmethod
    def _write(principal: Principal, plan: WritePlan, variables: VariableValues) -> _Write | None:
        """A mutation of one write field, ready to run without the executor (None: it answers)."""
        try:
            arguments = get_argument_values(plan.definition, plan.field, variables)
        except GraphQLError:
            return None  # the executor reports it with its path
        env = _env(principal, variables.coerced)
        try:  # the payload's own arguments (a filter on a nested connection), before anything is written
            plan.payload.bind({**env, "ids": [_NO_ROW], "arguments": arguments})
        except (AppError, ValueError):
            return None  # the executor reports a bad one with its path
        return _Write(plan, arguments, env)

    async def _plan(
        self,
        principal: Principal,
        policy: TenantPolicy,
        prepared: PreparedDocument,
        operation: OperationDefinitionNode,
        request: OperationRequest,
        planner: Callable[..., Any],
    ) -> tuple[Any, VariableValues] | None:
        """The operation's plan (memoized with the document) and its coerced variables; None when
        it cannot be compiled or a variable is invalid (the executor reports it)."""
        coerced = get_variable_values(self.graphql_schema, operation.variable_definitions or (), request.variables)
        if isinstance(coerced, list):
            return None
        variables = coerced.coerced
        # The record filters go into the plan with the caller's ids as parameters: callers with
        # the same roles share a plan.
        scope = self.access.scope(policy, principal, "read", bound=True)
        shape = ("plan", request.operation_name, variable_shape(variables), scope.key)
        needs = prepared.memo.get((*shape, "needs"))
        if needs is None:
            needs = self.compiler.custom_field_needs(operation, prepared.fragments, variables)
            _remember(prepared, (*shape, "needs"), needs)
        kinds = await self._custom_kinds(principal, needs) if needs else {}
        key = (*shape, tuple(sorted((name, tuple(sorted(k.items()))) for name, k in kinds.items())))
        plan = prepared.memo.get(key)
        if plan is None:
            try:
                plan = planner(operation, prepared.fragments, variables, scope, kinds)
            except NotCompilable:
                plan = _NOT_COMPILABLE
            _remember(prepared, key, plan)
        if plan is _NOT_COMPILABLE:
            return None
        return plan, coerced

    async def _custom_kinds(self, principal: Principal, entities: set[str]) -> dict[str, dict[str, str]]:
        async with tenant_transaction(principal.tenant_id, actor=principal.actor, readonly=True) as tx:
            return {name: await custom_fields.kinds(tx, name) for name in entities}

    async def _replay(self, tx: TenantContext, keyed: list[KeyedField], root_fields: int) -> dict[str, Any] | None:
        """The stored data when this operation ran before; None when it is new (keys now claimed)."""
        claims = [await idempotency.claim(tx, item.key, item.request_hash) for item in keyed]
        replays = [claim for claim in claims if claim.replay is not None]
        if not replays:
            return None
        if len(replays) != root_fields:
            raise Conflict(
                "this operation mixes an already used idempotencyKey with new mutations: "
                "retry the earlier mutation on its own",
                field="idempotencyKey",
            )
        return {item.response_key: claim.replay for item, claim in zip(keyed, claims, strict=True)}


@dataclass(frozen=True, slots=True)
class _Write:
    """A compiled write bound to its request: the field's write, then one payload statement."""

    plan: WritePlan
    arguments: dict[str, Any]
    env: dict[str, Any]

    async def run(self, context: Context) -> ExecutionResult:
        plan = self.plan
        try:
            written = await plan.write(context, self.arguments)
            params = plan.payload.bind(
                {**self.env, "ids": [row["id"] for row in written.rows], "arguments": self.arguments}
            )
            payload = await context.tx.fetchval(plan.payload.sql, *params)
        except Exception as exc:  # reported as the executor reports a resolver's error
            return ExecutionResult(None, [located_error(exc, [plan.field], [plan.key])])
        return ExecutionResult({plan.key: orjson.loads(payload)}, None)


def _env(principal: Principal, variables: dict[str, Any]) -> dict[str, Any]:
    """What a plan's parameters are resolved from (besides a write's results)."""
    return {
        "variables": variables,
        "tenant_id": principal.tenant_id,
        "user_id": principal.actor.id,
        "team_id": principal.team_id,
    }


_NOT_COMPILABLE = object()
_NO_ROW = uuid.UUID(int=0)
_MEMO_PER_DOCUMENT = 256  # plans, costs and the like per document (variable shapes vary)


def _remember(prepared: PreparedDocument, key: Any, value: Any) -> None:
    if len(prepared.memo) < _MEMO_PER_DOCUMENT:
        prepared.memo[key] = value


def _page_sizes(variables: dict[str, Any]) -> tuple[Any, ...]:
    """What of the variables a cost depends on: integers (page sizes) and list lengths (ids)."""
    return tuple(
        sorted((k, v if isinstance(v, int) else len(v)) for k, v in variables.items() if isinstance(v, int | list))
    )


def _app_errors(error: AppError, request_id: str) -> list[dict[str, Any]]:
    return format_errors([GraphQLError(error.message, original_error=error)], request_id)


def _encode(data: Any, errors: list[dict[str, Any]] | None, extensions: dict[str, Any]) -> bytes:
    body: dict[str, Any] = {}
    if errors:
        body["errors"] = errors
    body["data"] = data
    if extensions:
        body["extensions"] = extensions
    return orjson.dumps(body)
