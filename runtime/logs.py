"""Structured logs: one JSON object per line, with ids that follow a message.

The gateway sets `REQUEST_ID` for each HTTP request; the Ray backend carries
it inside every actor operation, and actors set it again before working, so
the gateway's, the session host's and the registry's lines of one message
share one `request_id`. Labels of metrics never carry these ids; logs do.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

REQUEST_ID: ContextVar[str] = ContextVar("orchestra_request_id", default="")

logger = logging.getLogger("orchestra")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update(fields)
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return orjson.dumps(data, default=str).decode()


def configure(level: str | None = None, stream: Any = None) -> None:
    """Install the JSON handler once per process (idempotent)."""
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel((level or os.environ.get("ORCHESTRA_LOG_LEVEL", "INFO")).upper())
    logger.propagate = False


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `name` with `fields` (and the current request id) as one JSON line."""
    if not logger.isEnabledFor(level):
        return
    rid = REQUEST_ID.get()
    if rid:
        fields["request_id"] = rid
    logger.log(level, name, extra={"fields": fields})


def now_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
