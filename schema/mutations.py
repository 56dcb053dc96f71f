"""Create / update / delete mutations for every type, single and batched, built one way.

`crud_fields("Account", RULES, AccountCreateInput, AccountUpdateInput)` returns the six
fields `accountCreate`, `accountsCreate`, `accountUpdate`, `accountsUpdate`, `accountDelete`,
`accountsDelete` with their payload types; an optional `CreateExtension` adds fields to the two
create payloads (e.g. the likely duplicates of what was created). Resolvers only translate inputs
(global ids become row ids, every bad id reported with its path) and call the shared write path in
backend.records, which holds the rules. `idempotencyKey` is handled by the executor before
resolvers run; it is declared here so that every mutation accepts it.

Like schema/fields.py, this module keeps real annotations (no postponed evaluation): the
resolvers and payload types it builds are read by strawberry.
"""

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import Enum
from types import GenericAlias
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import strawberry
from strawberry import UNSET

from backend.context import TenantContext
from backend.errors import BadInput, FieldError
from backend.naming import snake
from backend.query.entities import Entity, entity
from backend.query.filters import Filter
from backend.records import Change, PlainCreate, Rules, create, delete, plain_create, update
from policies.scopes import record_filter
from schema.context import Context
from schema.fields import PLAN, build, lazy
from schema.filters import graphql_value
from schema.relay import from_global_id

CreateFn = Callable[[TenantContext, list[dict[str, Any]], str, bool, list[FieldError]], Awaitable[list[asyncpg.Record]]]

IDEMPOTENCY_HELP = "Retrying with the same key and arguments returns the first result and writes nothing."


def input_values(value: Mapping[str, Any], entity_name: str, path: str, errors: list[FieldError]) -> dict[str, Any]:
    """A mutation input (GraphQL field names, as graphql-core coerces it or `graphql_value` turns a
    strawberry input into) as model values; `xId` global ids become row ids, enums their values.
    A bad id is reported in `errors` and its field left out."""
    target = entity(entity_name)
    values: dict[str, Any] = {}
    for key, given in value.items():
        name = snake(key)
        try:
            values[name] = _model_value(given, target, name, f"{path}.{key}", errors)
        except BadInput as exc:
            errors.extend(exc.errors)
    return values


def _model_value(given: Any, target: Entity, name: str, path: str, errors: list[FieldError]) -> Any:
    relation = target.relations.get(name.removesuffix("_id")) if name.endswith("_id") else None
    if relation is not None and relation.kind == "one":
        return None if given is None else from_global_id(given, expected=relation.target, field=path)[1]
    if isinstance(given, list) and given and isinstance(given[0], Mapping):
        nested = target.relations[name].target
        return [input_values(item, nested, f"{path}.{i}", errors) for i, item in enumerate(given)]
    return given.value if isinstance(given, Enum) else given


def _decode_id(value: str, entity_name: str, field: str, errors: list[FieldError]) -> Any:
    try:
        return from_global_id(value, expected=entity_name, field=field)[1]
    except BadInput as exc:
        errors.extend(exc.errors)
        return None


F = TypeVar("F", bound=Callable[..., Any])


def typed(returns: Any, **parameters: Any) -> Callable[[F], F]:
    """Give a generated resolver the real annotations strawberry reads (types made at run time)."""

    def apply(resolver: F) -> F:
        resolver.__annotations__.update(parameters, **{"return": returns})
        return resolver

    return apply


@dataclasses.dataclass(frozen=True, slots=True)
class CreateExtension:
    """More fields on the create payloads, computed in the create's transaction.

    `fields`: payload field -> (GraphQL type of its value for one created item, description);
    the batch payload holds a list of them, one per input. `run(context, create)` calls `create()`
    (it may translate its errors) and returns the rows and, per row, the values of `fields`.
    """

    fields: Mapping[str, tuple[Any, str]]
    run: Callable[
        [Context, Callable[[], Awaitable[list[asyncpg.Record]]]],
        Awaitable[tuple[list[asyncpg.Record], list[dict[str, Any]]]],
    ]


@dataclasses.dataclass(frozen=True, slots=True)
class Written:
    """What a mutation field wrote: the rows in input order (none for deletes) and, per created
    row, the values of its create extension's payload fields."""

    rows: list[asyncpg.Record]
    extras: list[dict[str, Any]]


Write = Callable[[Context, Mapping[str, Any]], Awaitable[Written]]
"""A mutation field's write, from its arguments as graphql-core coerces them (GraphQL names).

Both execution paths call it: the field's resolver (arguments turned back into dicts) and the
executor's compiled write path (schema/compiler.py `plan_write`), found in the field's PLAN
metadata as ("write", write, entity name, plain write or None)."""

PlainWrite = Callable[[UUID, Mapping[str, Any]], PlainCreate | None]
"""The same write as one INSERT, when it needs no reads first (backend/records.py
`plain_create`), for the tenant and the arguments; None when it does. The compiled write path
then runs it in one statement with the payload."""


def _payload(
    name: str,
    field_name: str,
    annotation: Any,
    description: str,
    plan: tuple[Any, ...],
    extra: Mapping[str, tuple[Any, str]] | None = None,
) -> type:
    """A payload type; `plan` describes its main field to the compiler (see schema/compiler.py)."""
    extra = extra or {}
    annotations = {field_name: annotation, **{k: t for k, (t, _) in extra.items()}}
    fields = {
        field_name: strawberry.field(metadata={PLAN: plan}),
        **{k: strawberry.field(description=text) for k, (_, text) in extra.items()},
    }
    cls = type(name, (), {"__annotations__": annotations, "__module__": __name__, **fields})
    return strawberry.type(cls, description=description)


def crud_fields(
    entity_name: str,
    rules: Rules,
    create_input: type,
    update_input: type,
    *,
    plural: str | None = None,
    create_fn: CreateFn | None = None,
    create_extension: CreateExtension | None = None,
) -> tuple[Any, Any, Any, Any, Any, Any]:
    """The six mutation fields of an entity, in the order: create, batch create, update, batch
    update, delete, batch delete."""
    single = entity_name[0].lower() + entity_name[1:]
    many = plural or single + "s"
    node = lazy(entity_name)

    async def do_create(
        tx: TenantContext, items: list[dict[str, Any]], path: str, batch: bool, errors: list[FieldError]
    ) -> list[asyncpg.Record]:
        if create_fn is not None:
            return await create_fn(tx, items, path, batch, errors)
        return await create(tx, rules, items, path=path, batch=batch, known_errors=errors)

    extra = create_extension.fields if create_extension is not None else {}

    async def created(
        context: Context, items: list[dict[str, Any]], path: str, batch: bool, errors: list[FieldError]
    ) -> Written:
        def run() -> Awaitable[list[asyncpg.Record]]:
            return do_create(context.tx, items, path, batch, errors)

        if create_extension is None:
            return Written(await run(), [{} for _ in items])
        return Written(*await create_extension.run(context, run))

    # -- the writes: arguments as graphql-core coerces them ------------------------------------

    async def write_create_one(context: Context, arguments: Mapping[str, Any]) -> Written:
        errors: list[FieldError] = []
        values = input_values(arguments["input"], entity_name, "input", errors)
        return await created(context, [values], "input", False, errors)

    def plain_create_one(tenant_id: UUID, arguments: Mapping[str, Any]) -> PlainCreate | None:
        errors: list[FieldError] = []
        values = input_values(arguments["input"], entity_name, "input", errors)
        return plain_create(tenant_id, rules, values, path="input", known_errors=errors)

    async def write_create_many(context: Context, arguments: Mapping[str, Any]) -> Written:
        errors: list[FieldError] = []
        inputs = arguments["inputs"]
        items = [input_values(item, entity_name, f"inputs.{i}", errors) for i, item in enumerate(inputs)]
        return await created(context, items, "inputs", True, errors)

    async def write_update_one(context: Context, arguments: Mapping[str, Any]) -> Written:
        errors: list[FieldError] = []
        pk = _decode_id(arguments["id"], entity_name, "id", errors)
        values = input_values(arguments["input"], entity_name, "input", errors)
        if pk is None:
            _raise(errors)
        change = Change(pk, values, arguments.get("version"))
        scope = _scope(context, entity_name, "update")
        rows = await update(context.tx, rules, [change], path="input", batch=False, known_errors=errors, scope=scope)
        return Written(rows, [])

    async def write_update_many(context: Context, arguments: Mapping[str, Any]) -> Written:
        errors: list[FieldError] = []
        changes = [
            Change(
                _decode_id(item["id"], entity_name, f"inputs.{i}.id", errors),
                input_values(item["input"], entity_name, f"inputs.{i}.input", errors),
                item.get("version"),
            )
            for i, item in enumerate(arguments["inputs"])
        ]
        scope = _scope(context, entity_name, "update")
        rows = await update(context.tx, rules, changes, path="inputs", batch=True, known_errors=errors, scope=scope)
        return Written(rows, [])

    async def write_delete_one(context: Context, arguments: Mapping[str, Any]) -> Written:
        errors: list[FieldError] = []
        pk = _decode_id(arguments["id"], entity_name, "id", errors)
        _raise(errors)
        change = Change(pk, {}, arguments.get("version"))
        await delete(context.tx, rules, [change], path="", batch=False, scope=_scope(context, entity_name, "delete"))
        return Written([], [])

    async def write_delete_many(context: Context, arguments: Mapping[str, Any]) -> Written:
        errors: list[FieldError] = []
        changes = [Change(_decode_id(v, entity_name, f"ids.{i}", errors), {}) for i, v in enumerate(arguments["ids"])]
        _raise(errors)
        scope = _scope(context, entity_name, "delete")
        await delete(context.tx, rules, changes, path="ids", batch=True, scope=scope)
        return Written([], [])

    # -- payloads and resolvers --------------------------------------------------------------

    nodes = GenericAlias(list, (node,))
    one_payload = _payload(
        f"{entity_name}CreatePayload", single, node, f"The created {entity_name}.", ("written", entity_name), extra
    )
    many_payload = _payload(
        f"{_upper(many)}CreatePayload",
        many,
        nodes,
        f"The created {many}, in input order.",
        ("written_list", entity_name),
        {
            k: (GenericAlias(list, (t,)), f"{text} One entry per input, in input order.")
            for k, (t, text) in extra.items()
        },
    )
    updated_payload = _payload(
        f"{entity_name}UpdatePayload", single, node, f"The {entity_name} after the update.", ("written", entity_name)
    )
    many_updated = _payload(
        f"{_upper(many)}UpdatePayload", many, nodes, f"The {many} after the update.", ("written_list", entity_name)
    )
    deleted_payload = _payload(
        f"{entity_name}DeletePayload", "deleted_id", strawberry.ID, "The id of the deleted object.", ("argument", "id")
    )
    many_deleted = _payload(
        f"{_upper(many)}DeletePayload", "deleted_ids", list[strawberry.ID], "The deleted ids.", ("argument", "ids")
    )
    update_item = strawberry.input(
        type(
            f"{entity_name}UpdateItem",
            (),
            {
                "__annotations__": {"id": strawberry.ID, "input": update_input, "version": int | None},
                "version": None,
                "__module__": __name__,
            },
        ),
        description=f"One {entity_name} to update; with `version`, only if it is still that version.",
    )

    @typed(one_payload, input=create_input)
    async def create_one(info: strawberry.Info, input: Any, idempotency_key: str | None = UNSET) -> Any:
        written = await write_create_one(info.context, {"input": graphql_value(input)})
        return one_payload(**{single: build(entity_name, written.rows[0])}, **written.extras[0])

    @typed(many_payload, inputs=GenericAlias(list, (create_input,)))
    async def create_many(info: strawberry.Info, inputs: list[Any], idempotency_key: str | None = UNSET) -> Any:
        written = await write_create_many(info.context, {"inputs": graphql_value(inputs)})
        per_input = {k: [e[k] for e in written.extras] for k in extra}
        return many_payload(**{many: [build(entity_name, r) for r in written.rows]}, **per_input)

    @typed(updated_payload, input=update_input)
    async def update_one(
        info: strawberry.Info,
        id: strawberry.ID,
        input: Any,
        version: int | None = UNSET,
        idempotency_key: str | None = UNSET,
    ) -> Any:
        arguments = {"id": id, "input": graphql_value(input), "version": None if version is UNSET else version}
        written = await write_update_one(info.context, arguments)
        return updated_payload(**{single: build(entity_name, written.rows[0])})

    @typed(many_updated, inputs=GenericAlias(list, (update_item,)))
    async def update_many(info: strawberry.Info, inputs: list[Any], idempotency_key: str | None = UNSET) -> Any:
        written = await write_update_many(info.context, {"inputs": graphql_value(inputs)})
        return many_updated(**{many: [build(entity_name, r) for r in written.rows]})

    @typed(deleted_payload)
    async def delete_one(
        info: strawberry.Info, id: strawberry.ID, version: int | None = UNSET, idempotency_key: str | None = UNSET
    ) -> Any:
        await write_delete_one(info.context, {"id": id, "version": None if version is UNSET else version})
        return deleted_payload(deleted_id=id)

    @typed(many_deleted)
    async def delete_many(info: strawberry.Info, ids: list[strawberry.ID], idempotency_key: str | None = UNSET) -> Any:
        await write_delete_many(info.context, {"ids": ids})
        return many_deleted(deleted_ids=ids)

    def field(resolver: Callable[..., Any], write: Write, text: str, plain: PlainWrite | None = None) -> Any:
        return strawberry.field(
            resolver=resolver, description=text, metadata={PLAN: ("write", write, entity_name, plain)}
        )

    a = "an" if entity_name[0] in "AEIOU" else "a"
    # A create with its own function or payload extension does more than one INSERT.
    plain = plain_create_one if create_fn is None and create_extension is None else None
    return (
        field(create_one, write_create_one, f"Create {a} {entity_name}. {IDEMPOTENCY_HELP}", plain),
        field(create_many, write_create_many, f"Create up to 500 {many} at once: all or none. {IDEMPOTENCY_HELP}"),
        field(
            update_one,
            write_update_one,
            f"Change {a} {entity_name}; pass the version you read to refuse stale updates.",
        ),
        field(update_many, write_update_many, f"Change up to 500 {many} at once: all or none. {IDEMPOTENCY_HELP}"),
        field(delete_one, write_delete_one, f"Delete {a} {entity_name}. {IDEMPOTENCY_HELP}"),
        field(delete_many, write_delete_many, f"Delete up to 500 {many} at once: all or none. {IDEMPOTENCY_HELP}"),
    )


def _scope(context: Context, entity_name: str, action: str) -> Filter | None:
    """The caller's record scope for a write (sales may update only their own accounts)."""
    return record_filter(context.policy, context.principal, entity_name, action) if context.policy else None


def _upper(name: str) -> str:
    return name[0].upper() + name[1:]


def _raise(errors: Sequence[FieldError]) -> None:
    if errors:
        raise BadInput(errors)
