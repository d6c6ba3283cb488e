"""Structured logs: one JSON object per line, with ids that follow a message.

The gateway sets `REQUEST_ID` for each HTTP request; the Ray backend carries
it inside every actor operation, and actors set it again before working, so
the gateway's, the session host's and the registry's lines of one message
share one `request_id`. Labels of metrics never carry these ids; logs do.

Lines are buffered: the per-message lines (`http`, `turn`) would otherwise
cost a write system call each (Ray's worker streams flush on every write).
A warning or worse is written at once, everything else within
`FLUSH_INTERVAL_S`, and the buffer is written at exit; a process killed with
SIGKILL loses at most that interval of info lines.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import IO

import orjson

from . import redact

REQUEST_ID: ContextVar[str] = ContextVar("orchestra_request_id", default="")
FLUSH_INTERVAL_S = 0.2
_MAX_BUFFERED = 64 * 1024

logger = logging.getLogger("orchestra")


def _line(data: Mapping[str, object]) -> str:
    return orjson.dumps(data, default=str).decode()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update(fields)
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return _line(data)


class JsonLinesHandler(logging.Handler):
    """Buffers formatted lines; writes them on warnings, when full, on a timer, at exit."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self.stream = stream
        self._buffer: list[str] = []
        self._size = 0
        self.setFormatter(JsonFormatter())
        threading.Thread(target=self._flush_loop, name="orchestra-logs", daemon=True).start()
        atexit.register(self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record), record.levelno)
        except Exception:
            self.handleError(record)

    def write(self, line: str, level: int) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._buffer.append(line)
            self._size += len(line)
            if level >= logging.WARNING or self._size > _MAX_BUFFERED:
                self._write_out()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_out()

    def _write_out(self) -> None:
        if not self._buffer:
            return
        text = "\n".join(self._buffer) + "\n"
        self._buffer, self._size = [], 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # closed at shutdown: nothing left to tell
            pass

    def _flush_loop(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL_S)
            self.flush()


def _handler() -> JsonLinesHandler | None:
    for h in logger.handlers:
        if isinstance(h, JsonLinesHandler):
            return h
    return None


def configure(level: str | None = None, stream: IO[str] | None = None) -> None:
    """Install the JSON handler once per process (idempotent)."""
    if _handler() is not None:
        return
    logger.addHandler(JsonLinesHandler(stream or sys.stderr))
    logger.setLevel((level or os.environ.get("ORCHESTRA_LOG_LEVEL", "INFO")).upper())
    logger.propagate = False


def flush() -> None:
    """Write buffered lines now (tests, and before a deliberate exit)."""
    handler = _handler()
    if handler is not None:
        handler.flush()


def event(name: str, level: int = logging.INFO, **fields: object) -> None:
    """Log `name` with `fields` (and the current request id) as one JSON line.

    The hot path: it skips `logging`'s record machinery (and the record
    factory Ray installs) when our handler is the one configured."""
    if not logger.isEnabledFor(level):
        return
    rid = REQUEST_ID.get()
    if rid:
        fields["request_id"] = rid
    handler = _handler()
    if handler is None:  # not configured: plain `logging` (e.g. a library user's handler)
        logger.log(level, name, extra={"fields": fields})
        return
    data = {"ts": round(time.time(), 6), "level": logging.getLevelName(level).lower()}
    data["event"] = name
    data.update(fields)
    handler.write(_line(data), level)


def now_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def tool_failed(
    exc: BaseException,
    tool: str,
    tier: str,
    tenant_id: str,
    session_id: str,
    scrub: redact.Scrub | None = None,
    **fields: object,
) -> None:
    """One `tool_failed` line (error level) for a tool that raised: the tool, its tier,
    the tenant, the session, the request id, the short reason and the traceback, each
    redacted (`runtime.redact`: an exception's text may quote a secret)."""
    event(
        "tool_failed",
        logging.ERROR,
        tool=tool,
        tier=tier,
        tenant_id=tenant_id,
        session_id=session_id,
        error=type(exc).__name__,
        reason=redact.reason(exc, scrub=scrub),
        traceback=redact.traceback_of(exc, scrub=scrub),
        **fields,
    )
