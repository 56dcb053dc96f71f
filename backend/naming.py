"""Column names (snake_case) and GraphQL names (camelCase), one way to turn one into the other."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)  # every event's row converts the same few column names
def camel(name: str) -> str:
    """`account_id` -> `accountId`; a trailing underscore (a Python keyword escaped) is dropped."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


@lru_cache(maxsize=4096)  # every mutation input converts the same few field names
def snake(name: str) -> str:
    """`accountId` -> `account_id`."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
