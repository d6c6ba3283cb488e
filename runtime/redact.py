"""Exception text that may leave the process: secrets masked, length capped.

A tool's exception message is written by code we do not own and may quote a
token, a password in a URL, an `Authorization` header or a key. Before it
reaches a reply, the audit, a proposal's result or a log line it goes through
`redact()`: bearer tokens, `key=value` pairs whose key names a secret, URL
credentials, Orchestra API keys and long opaque strings become `[redacted]`.
`reason(exc)` is the short, safe form a user sees ("backend down"); the
exception's class names it when it says nothing. `traceback_of(exc)` is the
redacted, capped traceback for the logs.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable

MAX_REASON = 160
MAX_TRACEBACK = 4_000
MASK = "[redacted]"

_SECRET_KEYS = (
    r"(?:pass(?:word|wd)?|secret|token|api[_-]?key|apikey|key|auth\w*|credential\w*"
    r"|session|cookie|signature|sig)"
)
_PATTERNS = (
    # "Authorization: Bearer abc", "bearer abc"
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {MASK}"),
    # password=..., "api_key": "...", token: ...
    (
        re.compile(
            rf"(?i)([\"']?\b\w*{_SECRET_KEYS}\b[\"']?\s*[:=]\s*)"
            r"(?!(?:bearer|basic|token)\s)([\"']?)[^\s\"',;&]+\2"
        ),
        rf"\1\2{MASK}\2",
    ),
    # scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), rf"\1{MASK}@"),
    # Orchestra keys, and the common vendor key shapes
    (re.compile(r"\b(?:orc|sk|pk|rk|ghp|gho|xox[abpr])[_-][A-Za-z0-9_-]{8,}"), MASK),
    # long opaque strings with letters and digits (hex, base64 and the like, not a path)
    (re.compile(r"\b(?=[\w+-]*\d)(?=[\w+-]*[A-Za-z])[A-Za-z0-9+_-]{32,}={0,2}"), MASK),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


Scrub = Callable[[str], str]


def reason(exc: BaseException, limit: int = MAX_REASON, scrub: Scrub | None = None) -> str:
    """A one-line, redacted, capped account of `exc`: its message, else its class.
    `scrub` goes first (a tool's own redaction: its URLs named by their endpoint)."""
    message = " ".join(str(exc).split())
    if scrub is not None:
        message = scrub(message)
    return cap(redact(message), limit) if message else type(exc).__name__


def traceback_of(exc: BaseException, limit: int = MAX_TRACEBACK, scrub: Scrub | None = None) -> str:
    """`exc`'s traceback, redacted, its last `limit` characters (the raise is at the end)."""
    text = "".join(traceback.format_exception(exc))
    text = redact(scrub(text) if scrub is not None else text)
    return text if len(text) <= limit else "..." + text[-(limit - 3) :]
