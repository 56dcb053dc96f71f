"""GraphQL rendering of errors: every error carries a stable `extensions.code`."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from backend.errors import AppError, BadInput, ErrorCode

log = logging.getLogger("rapport.graphql")


def format_errors(errors: list[GraphQLError], request_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for error in errors:
        original = error.original_error
        if isinstance(original, BadInput):
            # One entry per invalid value, so a form can mark every field at once.
            for item in original.errors:
                out.append(_entry(item.message, error, {"code": ErrorCode.BAD_USER_INPUT.value, "field": item.field}))
        elif isinstance(original, AppError):
            out.append(_entry(original.message, error, original.as_extensions()))
        elif original is None or isinstance(original, GraphQLError):
            # Syntax, validation and variable coercion errors (which wrap the value's own error):
            # the client sent something invalid.
            extensions = dict(error.extensions or {})
            extensions.setdefault("code", ErrorCode.BAD_USER_INPUT.value)
            out.append(_entry(error.message, error, extensions))
        else:
            log.error("unexpected error (request %s)", request_id, exc_info=original)
            out.append(_entry("internal error", error, {"code": ErrorCode.INTERNAL.value, "requestId": request_id}))
    return out


def app_error(exc: AppError) -> list[dict[str, Any]]:
    """Errors raised before execution (authentication, limits, policy)."""
    return format_errors([GraphQLError(exc.message, original_error=exc)], "")


def _entry(message: str, error: GraphQLError, extensions: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"message": message}
    if error.locations:
        entry["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        entry["path"] = error.path
    entry["extensions"] = extensions
    return entry
