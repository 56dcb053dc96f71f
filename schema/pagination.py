"""Relay connections: edges with cursors, nodes, pageInfo and an optional totalCount.

Keyset cursors (stable under inserts) are built in SQL by backend.query; this module only
wraps a fetched page. `totalCount` and the "other direction" flag of pageInfo cost a query
each, so they are computed only when selected.
"""

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

T = TypeVar("T")


@strawberry.type(description="Where a page sits in the whole list.")
class PageInfo:
    start_cursor: str | None
    end_cursor: str | None
    _backward: strawberry.Private[bool]
    _has_more: strawberry.Private[bool]
    _other_direction: strawberry.Private[Callable[[], Awaitable[bool]]]

    @strawberry.field
    async def has_next_page(self) -> bool:
        return await self._other_direction() if self._backward else self._has_more

    @strawberry.field
    async def has_previous_page(self) -> bool:
        return self._has_more if self._backward else await self._other_direction()


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The number of items in the whole list (one more query: ask only when shown).")
    async def total_count(self) -> int:
        return await self._count()


def connection(
    nodes: list[Any],
    cursors: list[str],
    *,
    has_more: bool,
    backward: bool,
    count: Callable[[], Awaitable[int]],
    other_direction: Callable[[], Awaitable[bool]],
) -> Connection[Any]:
    """A connection for one fetched page; `has_more` is about the direction of pagination."""
    info = PageInfo(
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
        _backward=backward,
        _has_more=has_more,
        _other_direction=other_direction,
    )
    return Connection(
        edges=[Edge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=info,
        _count=count,
    )
