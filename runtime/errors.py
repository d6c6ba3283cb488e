"""The exception tree of Orchestra and the error classifier.

    OrchestraError
    ├── ConfigError
    ├── NotFound                 (a session/proposal absent *for this tenant*)
    ├── Conflict
    │   ├── InvalidTransition    (proposal state machine)
    │   └── SessionClosed
    ├── BadRequest
    ├── Unavailable              (retryable: store, Ray or a host is down)
    ├── ToolError
    │   ├── ToolTimeout
    │   └── ToolValidationError
    └── ModelError               (carries an ErrorClass)

`classify()` maps any exception to an `ErrorClass` by type and HTTP status
code, never by message text. It knows no vendor: each model adapter turns its
SDK's exceptions into a `ModelError` at its own boundary (with
`classify_status()` and `retry_after_header()`), and `classify()` of a
`ModelError` is the class the adapter gave it. Other exceptions are classified
by a `status_code` (or `response.status_code`) attribute and the standard
library's network errors.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import pydantic


class ErrorClass(StrEnum):
    VALIDATION = "VALIDATION"
    RATE_LIMIT = "RATE_LIMIT"
    AUTH = "AUTH"
    NETWORK = "NETWORK"
    UNKNOWN = "UNKNOWN"


RETRYABLE: frozenset[ErrorClass] = frozenset({ErrorClass.RATE_LIMIT, ErrorClass.NETWORK})


class OrchestraError(Exception):
    """Root of every error Orchestra raises on purpose."""


class ConfigError(OrchestraError):
    pass


class NotFound(OrchestraError):
    pass


class Conflict(OrchestraError):
    pass


class InvalidTransition(Conflict):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"invalid transition {current} -> {target}")
        self.current = current
        self.target = target


class SessionClosed(Conflict):
    pass


class BadRequest(OrchestraError):
    pass


class Unavailable(OrchestraError):
    """A dependency is down; the caller may retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ToolError(OrchestraError):
    pass


class ToolTimeout(ToolError):
    pass


class ToolValidationError(ToolError):
    pass


class ModelError(OrchestraError):
    """A model call failed; `error_class` says whether retrying may help."""

    def __init__(
        self,
        message: str,
        error_class: ErrorClass,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.status_code = status_code
        self.retry_after = retry_after


def classify_status(status: int) -> ErrorClass:
    """Classify an HTTP status code."""
    if status == 429:
        return ErrorClass.RATE_LIMIT
    if status in (401, 403):
        return ErrorClass.AUTH
    if status in (400, 404, 409, 413, 422):
        return ErrorClass.VALIDATION
    if status == 408 or status >= 500:  # 500/502/503/529 overloaded: transient
        return ErrorClass.NETWORK
    return ErrorClass.UNKNOWN


_NETWORK_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,  # asyncio.TimeoutError is TimeoutError since 3.11
    socket.gaierror,
)


def classify(exc: BaseException) -> ErrorClass:
    """Map an exception to an ErrorClass by its type and status code."""
    if isinstance(exc, ModelError):
        return exc.error_class
    status = _status_of(exc)
    if status is not None:
        return classify_status(status)
    if isinstance(exc, _NETWORK_TYPES):
        return ErrorClass.NETWORK
    if isinstance(exc, pydantic.ValidationError | ToolValidationError | ValueError | TypeError):
        return ErrorClass.VALIDATION
    return ErrorClass.UNKNOWN


def _status_of(exc: BaseException) -> int | None:
    code: Any = getattr(exc, "status_code", None)
    if code is None:  # an HTTP client's status error carries the response
        code = getattr(getattr(exc, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


def retry_after_of(exc: BaseException) -> float | None:
    """The server's `retry-after` hint in seconds, when the exception carries one."""
    if isinstance(exc, ModelError):
        return exc.retry_after
    response: Any = getattr(exc, "response", None)
    headers: Any = getattr(response, "headers", None)
    return retry_after_header(headers) if isinstance(headers, Mapping) else None


def retry_after_header(headers: Mapping[str, str] | None) -> float | None:
    """The `retry-after` header in seconds (a number; an HTTP date is ignored).

    `headers` should look names up case-insensitively, as HTTP clients' header
    mappings do; a plain dict is tried as `retry-after` and `Retry-After`.
    """
    if headers is None:
        return None
    raw = headers.get("retry-after")
    if raw is None:
        raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None
