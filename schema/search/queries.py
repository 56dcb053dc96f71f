from __future__ import annotations

import asyncio

import strawberry

from backend.query.entities import entity
from backend.search import service
from schema import loaders
from schema.fields import build
from schema.relay import Node


@strawberry.type(description="A search result: an Account or a Contact, and how well it matched (0 to 1).")
class SearchHit:
    node: Node
    score: float


@strawberry.type
class Query:
    @strawberry.field(description="Accounts and contacts matching a name, email, phone or domain, best first.")
    async def search(self, info: strawberry.Info, query: str, first: int = 20) -> list[SearchHit]:
        ctx = info.context
        hits = await service.search(ctx.tx, query, first=first, scope=ctx.scope)
        rows = await asyncio.gather(*(loaders.row_by_id(ctx, entity(h.type_name), h.id) for h in hits))
        return [
            SearchHit(node=build(hit.type_name, row), score=round(hit.score, 4))
            for hit, row in zip(hits, rows, strict=True)
            if row is not None
        ]
