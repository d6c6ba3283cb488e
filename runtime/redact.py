"""What a trace or the turn inspector may show of a value: secrets out, size capped.

One rule for both. A mapping key that names a secret (`password`, `token`,
`api_key`, `authorization`, `secret`, `cookie`, ...) has its value replaced;
strings that look like credentials (a bearer token, an Orchestra tenant key,
a provider key, a URL's userinfo, a JWT) are replaced wherever they appear.
The result is then cut to `limit` characters of JSON, marked as cut.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

REDACTED = "[redacted]"
DEFAULT_LIMIT = 2048  # characters of JSON kept per value

_SECRET_KEY = re.compile(
    r"(passw(or)?d|passphrase|^pass$|secret|token$|api[-_]?key|apikey|^authorization$|^auth$"
    r"|cookie|credential|private[-_]?key|signature$|^key$)",
    re.IGNORECASE,
)
_SECRET_TEXT = re.compile(
    r"(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"  # an Authorization header's value
    r"|\borc_[A-Za-z0-9_-]{16,}"  # an Orchestra tenant key
    r"|\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"  # provider keys (OpenAI, Anthropic...)
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # a JWT
    r"|(?<=://)[^/@\s:]+:[^/@\s]+(?=@)"  # a URL's user:password
)


def redact_text(text: str) -> str:
    return _SECRET_TEXT.sub(REDACTED, text)


def redact(value: Any) -> Any:
    """`value` (JSON-like) with secrets replaced; other types become their `str`."""
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if _SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()
        }
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes | bytearray):
        return [redact(v) for v in value]
    return redact_text(str(value))


def shown(value: Any, limit: int = DEFAULT_LIMIT) -> Any:
    """`value` redacted, and if its JSON is over `limit` characters, that JSON cut to
    `limit` characters with a note of the full size (a string, not the structure)."""
    clean = redact(value)
    text = clean if isinstance(clean, str) else orjson.dumps(clean).decode()
    if len(text) <= limit:
        return clean
    return f"{text[:limit]}... [{len(text) - limit} more characters cut]"


def shown_text(value: Any, limit: int = DEFAULT_LIMIT) -> str:
    """`shown(value)` as one string (a span attribute)."""
    out = shown(value, limit)
    return out if isinstance(out, str) else orjson.dumps(out).decode()
