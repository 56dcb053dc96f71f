from __future__ import annotations

import base64
import binascii
import bisect
from uuid import UUID

import strawberry
from strawberry import UNSET

from backend.customers import matching
from backend.errors import BadInput
from backend.query import reads
from backend.query.entities import entity
from schema import loaders
from schema.context import Context
from schema.customers.types import (
    CustomerType,
    DuplicateGroup,
    DuplicateLink,
    DuplicateReason,
    MatchRules,
    Merge,
)
from schema.fields import build
from schema.pagination import Connection, connection
from schema.relay import Node, from_global_id

_CURSOR = "DuplicateGroup:"


def _cursor(group: matching.Group) -> str:
    return base64.b64encode(f"{_CURSOR}{group.members[0]}".encode()).decode()


def _after(cursor: str) -> UUID:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        if not text.startswith(_CURSOR):
            raise ValueError(text)
        return UUID(text.removeprefix(_CURSOR))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInput("not a valid cursor", field="after") from None


async def nodes_by_id(context: Context, entity_name: str, ids: list[UUID]) -> dict[UUID, Node]:
    """The records the caller may see, as nodes (one query)."""
    rows = await reads.by_ids(context.tx, entity(entity_name), ids, scope=context.scope) if ids else {}
    return {pk: build(entity_name, row) for pk, row in rows.items()}


@strawberry.type
class Query:
    @strawberry.field(description="The tenant's rules for finding duplicate accounts and contacts.")
    async def match_rules(self, info: strawberry.Info) -> MatchRules:
        return MatchRules.of(await matching.get_rules(info.context.tx))

    @strawberry.field(
        description="Groups of records that are likely the same customer, with the reasons that link them "
        "(oldest first; pass `after` the endCursor for the next page)."
    )
    async def duplicates(
        self, info: strawberry.Info, type: CustomerType, first: int | None = UNSET, after: str | None = UNSET
    ) -> Connection[DuplicateGroup]:
        context: Context = info.context
        settings = context.settings
        size = settings.page_default if first is UNSET or first is None else first
        if not 0 <= size <= settings.page_max:
            raise BadInput(f"first must be between 0 and {settings.page_max}", field="first")
        start_after = _after(after) if after else None
        groups = await matching.duplicate_groups(context.tx, type.value, scope=context.scope)
        start = bisect.bisect_right([g.members[0] for g in groups], start_after) if start_after else 0
        page = groups[start : start + size]
        nodes = await nodes_by_id(context, type.value, sorted({m for g in page for m in g.members}))
        items = [
            DuplicateGroup(
                members=[nodes[m] for m in g.members],
                links=[
                    DuplicateLink(
                        first=nodes[link.a], second=nodes[link.b], reasons=[DuplicateReason.of(r) for r in link.reasons]
                    )
                    for link in g.links
                ],
            )
            for g in page
        ]

        async def count() -> int:
            return len(groups)

        async def before() -> bool:
            return start > 0

        return connection(
            items,
            [_cursor(g) for g in page],
            has_more=start + size < len(groups),
            backward=False,
            count=count,
            other_direction=before,
        )

    @strawberry.field(description="One merge by id; null when it does not exist for you.")
    async def merge(self, info: strawberry.Info, id: strawberry.ID) -> Merge | None:
        _, pk = from_global_id(id, expected="Merge")
        merge: Merge | None = build("Merge", await loaders.row_by_id(info.context, entity("Merge"), pk))
        return merge
