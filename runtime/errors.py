"""The exception tree of Orchestra, its wire form, and the error classifier.

Every error class carries its wire `code`, its HTTP status and, where it
applies, `retry_after` (seconds). This docstring is the only mapping table:

    OrchestraError               internal_error         500
    ├── ConfigError              internal_error         500  (message not shown)
    ├── NotFound                 not_found              404  (absent *for this tenant*)
    ├── Conflict                 conflict               409
    │   ├── InvalidTransition    invalid_transition     409  (+ "status": current)
    │   ├── AlreadyApproved      already_approved       409  (the same principal twice)
    │   └── SessionClosed        session_closed         409
    ├── BadRequest               bad_request            400
    │   └── RequestInvalid       validation_error       422  (+ "fields")
    ├── Unauthorized             unauthorized           401
    ├── TooLarge                 payload_too_large      413
    ├── Forbidden                forbidden              403  (may not approve; owner only)
    ├── MethodNotAllowed         method_not_allowed     405  ┐ the HTTP layer's own
    ├── NotAcceptable            not_acceptable         406  │ refusals (no route...)
    ├── UnsupportedMediaType     unsupported_media_type 415  ┘
    ├── RateLimited              rate_limited           429  (Retry-After)
    ├── Unavailable              unavailable            503  (Retry-After: store, Ray, a host)
    │   └── NotOwner             not_owner              503  (+ "owner": the host that holds it)
    ├── ToolError                tool_error             500
    │   ├── ToolTimeout          tool_timeout           500
    │   ├── ToolValidationError  tool_invalid           500  (the tool refused the input)
    │   ├── ToolUnavailable      tool_unavailable       500  (it did not take the call)
    │   └── ToolOutcomeUnknown   outcome_unknown        500  (it may or may not have run)
    ├── ModelError               model_error            502  (carries an ErrorClass)
    ├── TurnAborted              turn_aborted           502  (the model failed after the
    │                                                         client got text)
    └── BreakerTransitionError   breaker_transition     500  (a bug: a move the breaker's
                                                              state machine forbids)

`error_to_wire()` and `error_from_wire()` are the one codec: actors send the
wire form across Ray, the gateway renders it (`{"error": wire}` with
`http_status_of(wire)`), SSE `error` events carry it. An error the HTTP layer
answers itself (no such route, 405...) is named by `code_for_status()`: the
code of the first class of the tree with that status (`http_error` if none).

`Retry-After` has one policy, by situation:

    a dependency (store, Ray, a session host) is down,   RETRY_AFTER_S       1 s
      a session is moving between hosts
    a session's state is reloading after a failed save   RETRY_SOON_S        0.1 s
      (in-process retries; over HTTP still 1 s)
    the process is not ready (`/readyz`)                 RETRY_NOT_READY_S   2 s
    a rate limit                                         the bucket's own wait

`Unavailable` and `RateLimited` default to `RETRY_AFTER_S`. The wire form keeps
the exact value; at the HTTP edge `retry_after_header()` renders it in whole
seconds, at least 1, and the error body's `retry_after` is that same number.

`classify()` maps any exception to an `ErrorClass` by type and HTTP status
code, never by message text. It knows no vendor: each model adapter turns its
SDK's exceptions into a `ModelError` at its own boundary (with
`classify_status()` and `parse_retry_after()`), and `classify()` of a
`ModelError` is the class the adapter gave it. Other exceptions are classified
by a `status_code` (or `response.status_code`) attribute and the standard
library's network errors.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Mapping
from enum import StrEnum
from typing import ClassVar, Required, TypedDict

import pydantic

RETRY_AFTER_S = 1.0  # a dependency is down, a session moving
RETRY_SOON_S = 0.1  # a session's state reloading: the next attempt finds it loaded
RETRY_NOT_READY_S = 2.0  # /readyz says not ready


class WireDetails(TypedDict, total=False):
    """What an error adds to its wire form, by kind."""

    status: str  # invalid_transition: the proposal's current status
    target: str
    fields: list[dict[str, str]]  # validation_error: the bad fields
    owner: str  # not_owner: the host that holds the session
    error_class: str  # model_error
    retry_after: float  # (seconds) for errors a caller may retry


class WireError(WireDetails, total=False):
    """An error's wire form: what crosses Ray, what the API's error body holds."""

    type: Required[str]
    message: Required[str]


class ErrorClass(StrEnum):
    VALIDATION = "VALIDATION"
    RATE_LIMIT = "RATE_LIMIT"
    AUTH = "AUTH"
    NETWORK = "NETWORK"
    UNKNOWN = "UNKNOWN"


RETRYABLE: frozenset[ErrorClass] = frozenset({ErrorClass.RATE_LIMIT, ErrorClass.NETWORK})


class OrchestraError(Exception):
    """Root of every error Orchestra raises on purpose."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500
    retry_after: float | None = None
    shown: ClassVar[bool] = True  # False: the wire message is generic, not str(exc)

    def details(self) -> WireDetails:
        """Extra fields of the wire form (besides type, message and retry_after)."""
        return {}

    @classmethod
    def from_wire(cls, message: str, wire: WireError) -> OrchestraError:
        return cls(message)


class ConfigError(OrchestraError):
    shown = False


class NotFound(OrchestraError):
    code, http_status = "not_found", 404


class Conflict(OrchestraError):
    code, http_status = "conflict", 409


class InvalidTransition(Conflict):
    code = "invalid_transition"

    def __init__(self, current: str, target: str, what: str = "the proposal") -> None:
        super().__init__(f"{what} is {current}; it cannot become {target}")
        self.current = current
        self.target = target

    def details(self) -> WireDetails:
        return {"status": self.current, "target": self.target}

    @classmethod
    def from_wire(cls, message: str, wire: WireError) -> OrchestraError:
        err = cls(str(wire.get("status", "")), str(wire.get("target", "")))
        err.args = (message,)
        return err


class AlreadyApproved(Conflict):
    """A second approval of one proposal by the same principal."""

    code = "already_approved"


class SessionClosed(Conflict):
    code = "session_closed"


class BadRequest(OrchestraError):
    code, http_status = "bad_request", 400


class RequestInvalid(BadRequest):
    """The request does not match the schema (a field is missing, too long...)."""

    code, http_status = "validation_error", 422

    def __init__(self, message: str, fields: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []

    def details(self) -> WireDetails:
        return {"fields": self.fields}

    @classmethod
    def from_wire(cls, message: str, wire: WireError) -> OrchestraError:
        return cls(message, list(wire.get("fields", [])))


class Unauthorized(OrchestraError):
    code, http_status = "unauthorized", 401


class TooLarge(OrchestraError):
    code, http_status = "payload_too_large", 413


class Forbidden(OrchestraError):
    code, http_status = "forbidden", 403


class MethodNotAllowed(OrchestraError):
    code, http_status = "method_not_allowed", 405


class NotAcceptable(OrchestraError):
    code, http_status = "not_acceptable", 406


class UnsupportedMediaType(OrchestraError):
    code, http_status = "unsupported_media_type", 415


class _RetryLater(OrchestraError):
    """An error whose caller may try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float = RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @classmethod
    def from_wire(cls, message: str, wire: WireError) -> OrchestraError:
        return cls(message, float(wire.get("retry_after", RETRY_AFTER_S)))


class RateLimited(_RetryLater):
    code, http_status = "rate_limited", 429


class Unavailable(_RetryLater):
    """A dependency is down; the caller may retry after `retry_after` seconds."""

    code, http_status = "unavailable", 503


class Overloaded(Unavailable):
    """A session host's queue is full: refused before any of the work ran."""

    code = "overloaded"


class NotOwner(Unavailable):
    """This process does not own the session (any more): `owner` does, if known."""

    code = "not_owner"

    def __init__(self, message: str, owner: str = "") -> None:
        super().__init__(message, retry_after=RETRY_AFTER_S)
        self.owner = owner

    def details(self) -> WireDetails:
        return {"owner": self.owner}

    @classmethod
    def from_wire(cls, message: str, wire: WireError) -> OrchestraError:
        return cls(message, str(wire.get("owner", "")))


class ToolError(OrchestraError):
    code = "tool_error"


class ToolTimeout(ToolError):
    code = "tool_timeout"


class ToolValidationError(ToolError):
    code = "tool_invalid"


class ToolUnavailable(ToolError):
    """The tool did not take the call (no connection, 429, 408): it did not run,
    and the same call may be sent again later (`retry_after`, when the tool said)."""

    code = "tool_unavailable"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ToolOutcomeUnknown(ToolError):
    """The call may have reached the tool and its effect cannot be read (no answer,
    a dropped connection, a 5xx, an unreadable or off-schema result). The message
    says why; it does not add "whether it took effect is unknown" (the dispatcher
    says that, once)."""

    code = "outcome_unknown"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ModelError(OrchestraError):
    """A model call failed; `error_class` says whether retrying may help."""

    code, http_status = "model_error", 502

    def __init__(
        self,
        message: str,
        error_class: ErrorClass = ErrorClass.UNKNOWN,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.status_code = status_code
        self.retry_after = retry_after

    def details(self) -> WireDetails:
        return {"error_class": self.error_class.value}

    @classmethod
    def from_wire(cls, message: str, wire: WireError) -> OrchestraError:
        return cls(message, ErrorClass(wire.get("error_class", ErrorClass.UNKNOWN.value)))


class TurnAborted(OrchestraError):
    """The model failed after some of its answer had reached the client: the turn
    ends with an `error` event and nothing of it is saved (retrying would send
    the client the same text twice)."""

    code, http_status = "turn_aborted", 502


class BreakerTransitionError(OrchestraError):
    """A breaker move the state machine does not allow (a bug, never user input)."""

    code = "breaker_transition"

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"circuit breaker cannot go from {current} to {target}")
        self.current = current
        self.target = target

    def details(self) -> WireDetails:
        return {"status": self.current, "target": self.target}

    @classmethod
    def from_wire(cls, message: str, wire: WireError) -> OrchestraError:
        err = cls(str(wire.get("status", "")), str(wire.get("target", "")))
        err.args = (message,)
        return err


def _tree() -> list[type[OrchestraError]]:
    """Every class of the tree, breadth first (a parent before its children)."""
    order: list[type[OrchestraError]] = [OrchestraError]
    for cls in order:
        order.extend(cls.__subclasses__())
    return order


_TREE = _tree()
_BY_CODE: dict[str, type[OrchestraError]] = {}
_BY_STATUS: dict[int, type[OrchestraError]] = {}
for _cls in _TREE:
    _BY_CODE.setdefault(_cls.code, _cls)
    _BY_STATUS.setdefault(_cls.http_status, _cls)


def error_classes() -> list[type[OrchestraError]]:
    """Every public class of the tree, a parent before its children."""
    return [cls for cls in _TREE if not cls.__name__.startswith("_")]


def code_for_status(status: int) -> str:
    """The wire code of an HTTP status: that of the first class of the tree
    (breadth first) with the status, `http_error` when no class has it."""
    cls = _BY_STATUS.get(status)
    return cls.code if cls is not None else "http_error"


def error_to_wire(exc: BaseException) -> WireError:
    """The wire form of any exception: `{"type", "message", ["retry_after"], ...}`.

    An exception outside the tree is an `internal_error` whose message names only
    its type (no stack, no text that could leak internals)."""
    if not isinstance(exc, OrchestraError):
        return {"type": OrchestraError.code, "message": f"internal error ({type(exc).__name__})"}
    message = str(exc) if exc.shown else "the server is misconfigured"
    wire: WireError = {
        "type": exc.code,
        "message": message or exc.code.replace("_", " "),
        **exc.details(),
    }
    if exc.retry_after is not None:
        wire["retry_after"] = exc.retry_after
    return wire


def error_from_wire(wire: WireError) -> OrchestraError:
    """The exception a wire form stands for (an unknown type: `OrchestraError`)."""
    cls = _BY_CODE.get(str(wire.get("type")), OrchestraError)
    err = cls.from_wire(str(wire.get("message", "")), wire)
    if "retry_after" in wire:
        err.retry_after = float(wire["retry_after"])
    return err


def http_status_of(wire: WireError) -> int:
    return _BY_CODE.get(str(wire.get("type")), OrchestraError).http_status


def retry_after_header(seconds: float | None) -> str:
    """A `Retry-After` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds if seconds is not None else RETRY_AFTER_S)))


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
    code: object = getattr(exc, "status_code", None)
    if code is None:  # an HTTP client's status error carries the response
        code = getattr(getattr(exc, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


def retry_after_of(exc: BaseException) -> float | None:
    """The server's `retry-after` hint in seconds, when the exception carries one."""
    if isinstance(exc, ModelError):
        return exc.retry_after
    response: object = getattr(exc, "response", None)
    headers: object = getattr(response, "headers", None)
    return parse_retry_after(headers) if isinstance(headers, Mapping) else None


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
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
