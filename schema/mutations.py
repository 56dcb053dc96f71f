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

import asyncpg
import strawberry
from strawberry import UNSET

from backend.context import TenantContext
from backend.errors import BadInput, FieldError
from backend.query.entities import Entity, entity
from backend.query.filters import Filter
from backend.records import Change, Rules, create, delete, update
from policies.scopes import record_filter
from schema.fields import build, lazy
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
        name = _snake(key)
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


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


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
    the batch payload holds a list of them, one per input. `run(info, create)` calls `create()`
    (it may translate its errors) and returns the rows and, per row, the values of `fields`.
    """

    fields: Mapping[str, tuple[Any, str]]
    run: Callable[
        [strawberry.Info, Callable[[], Awaitable[list[asyncpg.Record]]]],
        Awaitable[tuple[list[asyncpg.Record], list[dict[str, Any]]]],
    ]


def _payload(
    name: str, field_name: str, annotation: Any, description: str, extra: Mapping[str, tuple[Any, str]] | None = None
) -> type:
    extra = extra or {}
    annotations = {field_name: annotation, **{k: t for k, (t, _) in extra.items()}}
    described = {k: strawberry.field(description=text) for k, (_, text) in extra.items()}
    cls = type(name, (), {"__annotations__": annotations, "__module__": __name__, **described})
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
        info: strawberry.Info, items: list[dict[str, Any]], path: str, batch: bool, errors: list[FieldError]
    ) -> tuple[list[asyncpg.Record], list[dict[str, Any]]]:
        def run() -> Awaitable[list[asyncpg.Record]]:
            return do_create(info.context.tx, items, path, batch, errors)

        if create_extension is None:
            return await run(), [{} for _ in items]
        return await create_extension.run(info, run)

    nodes = GenericAlias(list, (node,))
    one_payload = _payload(f"{entity_name}CreatePayload", single, node, f"The created {entity_name}.", extra)
    many_payload = _payload(
        f"{_upper(many)}CreatePayload",
        many,
        nodes,
        f"The created {many}, in input order.",
        {
            k: (GenericAlias(list, (t,)), f"{text} One entry per input, in input order.")
            for k, (t, text) in extra.items()
        },
    )
    updated_payload = _payload(f"{entity_name}UpdatePayload", single, node, f"The {entity_name} after the update.")
    many_updated = _payload(f"{_upper(many)}UpdatePayload", many, nodes, f"The {many} after the update.")
    deleted_payload = _payload(
        f"{entity_name}DeletePayload", "deleted_id", strawberry.ID, "The id of the deleted object."
    )
    many_deleted = _payload(f"{_upper(many)}DeletePayload", "deleted_ids", list[strawberry.ID], "The deleted ids.")
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
        errors: list[FieldError] = []
        values = input_values(graphql_value(input), entity_name, "input", errors)
        rows, extras = await created(info, [values], "input", False, errors)
        return one_payload(**{single: build(entity_name, rows[0])}, **extras[0])

    @typed(many_payload, inputs=GenericAlias(list, (create_input,)))
    async def create_many(info: strawberry.Info, inputs: list[Any], idempotency_key: str | None = UNSET) -> Any:
        errors: list[FieldError] = []
        items = [input_values(graphql_value(item), entity_name, f"inputs.{i}", errors) for i, item in enumerate(inputs)]
        rows, extras = await created(info, items, "inputs", True, errors)
        per_input = {k: [e[k] for e in extras] for k in extra}
        return many_payload(**{many: [build(entity_name, r) for r in rows]}, **per_input)

    @typed(updated_payload, input=update_input)
    async def update_one(
        info: strawberry.Info,
        id: strawberry.ID,
        input: Any,
        version: int | None = UNSET,
        idempotency_key: str | None = UNSET,
    ) -> Any:
        errors: list[FieldError] = []
        pk = _decode_id(id, entity_name, "id", errors)
        values = input_values(graphql_value(input), entity_name, "input", errors)
        if pk is None:
            _raise(errors)
        change = Change(pk, values, None if version is UNSET else version)
        rows = await update(
            info.context.tx,
            rules,
            [change],
            path="input",
            batch=False,
            known_errors=errors,
            scope=_scope(info, entity_name, "update"),
        )
        return updated_payload(**{single: build(entity_name, rows[0])})

    @typed(many_updated, inputs=GenericAlias(list, (update_item,)))
    async def update_many(info: strawberry.Info, inputs: list[Any], idempotency_key: str | None = UNSET) -> Any:
        errors: list[FieldError] = []
        changes = [
            Change(
                _decode_id(item.id, entity_name, f"inputs.{i}.id", errors),
                input_values(graphql_value(item.input), entity_name, f"inputs.{i}.input", errors),
                item.version,
            )
            for i, item in enumerate(inputs)
        ]
        rows = await update(
            info.context.tx,
            rules,
            changes,
            path="inputs",
            batch=True,
            known_errors=errors,
            scope=_scope(info, entity_name, "update"),
        )
        return many_updated(**{many: [build(entity_name, r) for r in rows]})

    @typed(deleted_payload)
    async def delete_one(
        info: strawberry.Info, id: strawberry.ID, version: int | None = UNSET, idempotency_key: str | None = UNSET
    ) -> Any:
        errors: list[FieldError] = []
        pk = _decode_id(id, entity_name, "id", errors)
        _raise(errors)
        change = Change(pk, {}, None if version is UNSET else version)
        await delete(info.context.tx, rules, [change], path="", batch=False, scope=_scope(info, entity_name, "delete"))
        return deleted_payload(deleted_id=id)

    @typed(many_deleted)
    async def delete_many(info: strawberry.Info, ids: list[strawberry.ID], idempotency_key: str | None = UNSET) -> Any:
        errors: list[FieldError] = []
        changes = [Change(_decode_id(v, entity_name, f"ids.{i}", errors), {}) for i, v in enumerate(ids)]
        _raise(errors)
        await delete(info.context.tx, rules, changes, path="ids", batch=True, scope=_scope(info, entity_name, "delete"))
        return many_deleted(deleted_ids=ids)

    def field(resolver: Callable[..., Any], text: str) -> Any:
        return strawberry.field(resolver=resolver, description=text)

    a = "an" if entity_name[0] in "AEIOU" else "a"
    return (
        field(create_one, f"Create {a} {entity_name}. {IDEMPOTENCY_HELP}"),
        field(create_many, f"Create up to 500 {many} at once: all or none. {IDEMPOTENCY_HELP}"),
        field(update_one, f"Change {a} {entity_name}; pass the version you read to refuse stale updates."),
        field(update_many, f"Change up to 500 {many} at once: all or none. {IDEMPOTENCY_HELP}"),
        field(delete_one, f"Delete {a} {entity_name}. {IDEMPOTENCY_HELP}"),
        field(delete_many, f"Delete up to 500 {many} at once: all or none. {IDEMPOTENCY_HELP}"),
    )


def _scope(info: strawberry.Info, entity_name: str, action: str) -> Filter | None:
    """The caller's record scope for a write (sales may update only their own accounts)."""
    context = info.context
    return record_filter(context.policy, context.principal, entity_name, action) if context.policy else None


def _upper(name: str) -> str:
    return name[0].upper() + name[1:]


def _raise(errors: Sequence[FieldError]) -> None:
    if errors:
        raise BadInput(errors)
