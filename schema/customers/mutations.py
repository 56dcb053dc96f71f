"""Match rules, merges and merge undo; and the duplicate warnings of accountCreate/contactCreate.

No postponed annotations: the merge fields are built per entity with real annotations.
"""

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg
import strawberry
from strawberry import UNSET

from backend.customers import matching
from backend.customers import merge as merging
from backend.errors import BadInput, Conflict, FieldError
from backend.naming import camel
from schema.context import Context
from schema.customers.inputs import MatchRulesInput, MergeFieldChoiceInput
from schema.customers.queries import nodes_by_id
from schema.customers.types import DuplicateMatch, DuplicateReason, MatchRules, Merge
from schema.fields import build, lazy
from schema.mutations import IDEMPOTENCY_HELP, CreateExtension, typed
from schema.relay import Node, from_global_id, to_global_id


def _changes(value: Any) -> dict[str, Any]:
    """The fields given in an input, nested inputs included, under their GraphQL names."""
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        given = getattr(value, field.name)
        if given is UNSET:
            continue
        changes[camel(field.name)] = _changes(given) if dataclasses.is_dataclass(given) else given
    return changes


@strawberry.type(description="The match rules after the change.")
class MatchRulesUpdatePayload:
    match_rules: MatchRules


@strawberry.type(description="What a merge undo restored.")
class MergeUndoPayload:
    merge: Merge
    survivor: Node
    restored: list[Node] = strawberry.field(description="The merged records, back with their original ids.")


def _decode(value: str, entity_name: str, field: str, errors: list[FieldError]) -> UUID | None:
    try:
        return from_global_id(value, expected=entity_name, field=field)[1]
    except BadInput as exc:
        errors.extend(exc.errors)
        return None


def merge_field(entity_name: str) -> Any:
    """`accountMerge` / `contactMerge` and its payload."""
    single = entity_name[0].lower() + entity_name[1:]
    payload = strawberry.type(
        type(
            f"{entity_name}MergePayload",
            (),
            {
                "__annotations__": {"merge": Merge, single: lazy(entity_name), "dry_run": bool},
                "__module__": __name__,
                "dry_run": strawberry.field(description="True when nothing was written (the merge is a preview)."),
            },
        ),
        description=f"The merge and the surviving {entity_name} as they are (or, on a dry run, would be).",
    )

    @typed(payload)
    async def resolve(
        info: strawberry.Info,
        survivor_id: strawberry.ID,
        merged_ids: list[strawberry.ID],
        field_choices: list[MergeFieldChoiceInput] | None = UNSET,
        dry_run: bool = False,
        version: int | None = UNSET,
        idempotency_key: str | None = UNSET,
    ) -> Any:
        errors: list[FieldError] = []
        survivor = _decode(survivor_id, entity_name, "survivorId", errors)
        merged = [_decode(v, entity_name, f"mergedIds.{i}", errors) for i, v in enumerate(merged_ids)]
        choices = []
        for i, choice in enumerate(field_choices or ()):
            source = _decode(choice.from_, entity_name, f"fieldChoices.{i}.from", errors)
            if source is not None:
                choices.append(merging.FieldChoice(choice.field, source))
        if errors:
            raise BadInput(errors)
        assert survivor is not None
        result = await merging.merge(
            info.context.tx,
            entity_name,
            survivor,
            [pk for pk in merged if pk is not None],
            choices,
            dry_run=dry_run,
            version=None if version is UNSET else version,
        )
        return payload(
            merge=build("Merge", result.merge), **{single: build(entity_name, result.survivor)}, dry_run=result.dry_run
        )

    return strawberry.field(
        resolver=resolve,
        description=(
            f"Merge up to {merging.MAX_MERGED} duplicate {single}s into the survivor: every related record moves "
            "to it, `fieldChoices` say which record supplies which field (the survivor's value otherwise), the "
            "merged records are deleted. `dryRun` shows the result and writes nothing; pass the survivor's "
            f"`version` to refuse a stale merge. {IDEMPOTENCY_HELP}"
        ),
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(description=f"Change the tenant's match rules. {IDEMPOTENCY_HELP}")
    async def match_rules_update(
        self, info: strawberry.Info, input: MatchRulesInput, idempotency_key: str | None = UNSET
    ) -> MatchRulesUpdatePayload:
        rules = await matching.update_rules(info.context.tx, _changes(input))
        return MatchRulesUpdatePayload(match_rules=MatchRules.of(rules))

    account_merge = merge_field("Account")
    contact_merge = merge_field("Contact")

    @strawberry.mutation(
        description="Undo a merge: the merged records come back with their ids and values, every moved record "
        "returns to them and the survivor gets its previous field values (its version moves forward). "
        f"CONFLICT when that cannot be done exactly; nothing changes then. {IDEMPOTENCY_HELP}"
    )
    async def merge_undo(
        self, info: strawberry.Info, merge_id: strawberry.ID, idempotency_key: str | None = UNSET
    ) -> MergeUndoPayload:
        _, pk = from_global_id(merge_id, expected="Merge", field="mergeId")
        result = await merging.undo(info.context.tx, pk)
        entity_name = result.merge["entity"]
        return MergeUndoPayload(
            merge=build("Merge", result.merge),
            survivor=build(entity_name, result.survivor),
            restored=[build(entity_name, row) for row in result.restored],
        )


def duplicate_warnings(entity_name: str) -> CreateExtension:
    """The `duplicates` field of the create payloads, and the CONFLICT of a refused duplicate with
    global ids (the backend refuses; it does not know GraphQL ids)."""

    async def run(
        context: Context, create: Callable[[], Awaitable[list[asyncpg.Record]]]
    ) -> tuple[list[asyncpg.Record], list[dict[str, Any]]]:
        try:
            rows = await create()
        except matching.DuplicatesRejected as exc:
            described = exc.describe(lambda pk: to_global_id(entity_name, pk))
            raise Conflict(exc.message, **{**exc.extensions, "duplicates": described}) from None
        found = await matching.matches_for(context.tx, entity_name, rows, scope=context.scope)
        nodes = await nodes_by_id(context, entity_name, sorted({m.id for ms in found for m in ms}))
        return rows, [
            {
                "duplicates": [
                    DuplicateMatch(node=nodes[m.id], reasons=[DuplicateReason.of(r) for r in m.reasons])
                    for m in matches
                    if m.id in nodes
                ]
            }
            for matches in found
        ]

    return CreateExtension(
        {"duplicates": (list[DuplicateMatch], "Existing records the created one looks like, likeliest first.")},
        run,
    )
