"""Errors the application raises on purpose, each with a stable code.

Services raise these; the GraphQL layer renders them as errors with `extensions.code` (and
`extensions.field` for input errors), and the CLI prints their message. Anything else that
escapes is a bug: it is logged with the request id and shown to clients only as INTERNAL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    EVENTS_EXPIRED = "EVENTS_EXPIRED"
    ACCESS_CHANGED = "ACCESS_CHANGED"
    INTERNAL = "INTERNAL"


class AppError(Exception):
    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions

    def as_extensions(self) -> dict[str, Any]:
        return {"code": self.code.value, **self.extensions}


class Unauthenticated(AppError):
    code = ErrorCode.UNAUTHENTICATED

    def __init__(self, message: str = "authentication required") -> None:
        super().__init__(message)


class Forbidden(AppError):
    code = ErrorCode.FORBIDDEN


class NotFound(AppError):
    code = ErrorCode.NOT_FOUND


class Conflict(AppError):
    code = ErrorCode.CONFLICT


class AccessChanged(AppError):
    """A running subscription's roles or record scope changed: it must be started again."""

    code = ErrorCode.ACCESS_CHANGED


class RateLimited(AppError):
    code = ErrorCode.RATE_LIMITED


class QueryTooComplex(AppError):
    code = ErrorCode.QUERY_TOO_COMPLEX


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input value; `field` is a dotted path such as `inputs.17.email`."""

    field: str
    message: str


class BadInput(AppError):
    """One or more invalid input values, all reported at once."""

    code = ErrorCode.BAD_USER_INPUT

    def __init__(self, errors: Iterable[FieldError] | str, field: str | None = None) -> None:
        if isinstance(errors, str):
            errors = [FieldError(field or "", errors)]
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, field=first.field)

    def prefixed(self, prefix: str) -> BadInput:
        """The same errors with their paths under `prefix` (e.g. `inputs.17`)."""
        return BadInput(FieldError(f"{prefix}.{e.field}" if e.field else prefix, e.message) for e in self.errors)
