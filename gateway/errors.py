"""Exceptions at the HTTP boundary -> API.md error bodies.

Every error is `{"error": {"type": "<snake_case>", "message": "..."}}`, the wire
form of runtime.errors (the one mapping table: each error class carries its
code, HTTP status and Retry-After); an invalid proposal transition adds
`"status": <current status>`, a retryable error (429, 503) `"retry_after"`:
whole seconds, the value of its `Retry-After` header. No handler ever returns a stack trace; an
unexpected exception is a generic 500 (the guard in `gateway.middleware` logs it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from runtime import (
    OrchestraError,
    RequestInvalid,
    WireError,
    code_for_status,
    error_to_wire,
    http_status_of,
    retry_after_header,
)

from .responses import FastJSON

_MAX_VALIDATION_ITEMS = 5
_PRIVATE = ("owner", "target", "error_class")  # wire fields that stay inside the runtime


def error_body(type_: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"type": type_, "message": message, **extra}}


def error_response(
    status: int,
    message: str,
    *,
    type_: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> Response:
    """An error the HTTP layer itself answers (no such route, body too large...)."""
    kind = type_ or code_for_status(status)
    return FastJSON(error_body(kind, message, **(extra or {})), status_code=status, headers=headers)


def public_error(wire: WireError) -> dict[str, object]:
    """The API.md error object of a wire form: its private fields dropped, and
    `retry_after` in whole seconds, the number the `Retry-After` header says."""
    body: dict[str, object] = {k: v for k, v in wire.items() if k not in _PRIVATE}
    if "retry_after" in wire:
        body["retry_after"] = int(retry_after_header(wire["retry_after"]))
    return body


def wire_error_response(wire: WireError, headers: Mapping[str, str] | None = None) -> Response:
    """The response for an error in wire form (`runtime.errors.error_to_wire`)."""
    body = public_error(wire)
    out = dict(headers or {})
    if "retry_after" in body:
        out["Retry-After"] = str(body["retry_after"])
    return FastJSON({"error": body}, status_code=http_status_of(wire), headers=out)


def orchestra_error_response(exc: OrchestraError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    return wire_error_response(error_to_wire(exc), headers)


def _loc(loc: object) -> str:
    parts = [str(p) for p in loc] if isinstance(loc, list | tuple) else [str(loc)]
    return ".".join(parts) or "request"


def validation_error_response(exc: RequestValidationError) -> Response:
    """422 with a short message (field: problem; ...), or 400 for malformed JSON."""
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed JSON body")
    items = [
        {"loc": _loc(e.get("loc", ())), "msg": str(e.get("msg", "invalid"))[:200]}
        for e in errors[:_MAX_VALIDATION_ITEMS]
    ]
    message = "; ".join(f"{i['loc']}: {i['msg']}" for i in items) or "invalid request"
    if len(errors) > _MAX_VALIDATION_ITEMS:
        message += f"; and {len(errors) - _MAX_VALIDATION_ITEMS} more"
    return orchestra_error_response(RequestInvalid(message, items))


def _path_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def allowed_methods(request: Request) -> list[str]:
    """Every method served at this path, from the OpenAPI paths (Starlette's own
    405 names only the first route that matched the path)."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        request.app.state, "allow_table", None
    )
    if table is None:
        paths: dict[str, dict[str, object]] = request.app.openapi().get("paths", {})
        table = [(_path_regex(t), {m.upper() for m in ops}) for t, ops in paths.items()]
        request.app.state.allow_table = table
    methods: set[str] = set()
    for pattern, verbs in table:
        if pattern.fullmatch(request.url.path):
            methods |= verbs
    return sorted(methods)


def http_exception_response(request: Request, exc: StarletteHTTPException) -> Response:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if status == 404:
        message = "no such route"
    elif status == 405:
        message = f"method {request.method} not allowed on this route"
        allowed = allowed_methods(request)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    else:
        message = str(exc.detail) if exc.detail else "error"
    return error_response(status, message, headers=headers)


async def _on_orchestra_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OrchestraError)
    return orchestra_error_response(exc)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return validation_error_response(exc)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return http_exception_response(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OrchestraError, _on_orchestra_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
