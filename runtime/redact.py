"""What a trace or the turn inspector may show of a value: secrets out, size capped.

One rule for both. A mapping key that names a secret (`password`, `token`,
`api_key`, `authorization`, `secret`, `cookie`, ...) has its value replaced;
strings that look like credentials (a bearer token, an Orchestra tenant key,
a provider key, a URL's userinfo, a JWT) are replaced wherever they appear.
The result is then cut to `limit` characters of JSON, marked as cut.

A tool's exception text (what a reply, the audit, a proposal's result and the
`tool_failed` log line say of it) gets the same text rules and more, since it is
free text: `key=value` pairs whose key names a secret, other vendor key shapes
and long opaque strings are masked too (`redact_error_text`). `reason(exc)` is
the short, safe form a user sees ("backend down"): one line, capped at
`MAX_REASON`, the exception's class when it says nothing. `traceback_of(exc)` is
the redacted, capped traceback for the logs.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Mapping, Sequence

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
    r'|(?<=://)[^/@\s:"]+:[^/@\s"]+(?=@)'  # a URL's user:password
)
# Plain substrings (lower case) without which a rule cannot match: checking them
# costs a few microseconds, running the patterns on every value far more. When no
# key word is in a value's JSON the key rule cannot apply and one pass over the
# text is enough (the common case); else the value is walked key by key.
_TEXT_HINTS = ("bearer", "basic", "orc_", "sk-", "pk-", "rk-", "eyj")
_KEY_HINTS = (
    "pass",
    "secret",
    "token",
    "key",
    "auth",
    "cookie",
    "credential",
    "signature",
)
_SLACK = 512  # characters past the cap still searched (a secret across the cut)


def _may_hold_secret_text(low: str) -> bool:
    return any(h in low for h in _TEXT_HINTS) or ("://" in low and "@" in low)


def redact_text(text: str) -> str:
    if not _may_hold_secret_text(text.lower()):
        return text
    return _SECRET_TEXT.sub(REDACTED, text)


def redact(value: object) -> object:
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


def shown(value: object, limit: int = DEFAULT_LIMIT) -> object:
    """`value` redacted, and if its JSON is over `limit` characters, that JSON cut to
    `limit` characters with a note of the full size (a string, not the structure)."""
    if isinstance(value, str):
        return _cut(redact_text(value[: limit + _SLACK]), len(value), limit)
    text = orjson.dumps(value, default=str).decode()
    low = text.lower()
    if any(h in low for h in _KEY_HINTS):
        text = orjson.dumps(redact(value), default=str).decode()  # the exact, slower path
    else:
        text = redact_text(text[: limit + _SLACK] if len(text) > limit else text)
    if len(text) <= limit:
        return orjson.loads(text)
    return _cut(text, len(text), limit)


def shown_json(text: str, full: int | None = None, limit: int = DEFAULT_LIMIT) -> object:
    """A value kept as its JSON `text` (cut from `full` characters when `full` is
    given), as `shown` would give it."""
    if full is None:
        try:
            return shown(orjson.loads(text), limit)
        except orjson.JSONDecodeError:
            pass  # not JSON after all: shown as text
    return _cut(_redact_json_text(redact_text(text)), full or len(text), limit)


_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*("(?:[^"\\]|\\.)*(?:"|$)|[^,}\]\s]+)')


def _redact_json_text(text: str) -> str:
    """The key rule on JSON text that cannot be parsed (it was cut): a string or
    scalar value under a key that names a secret is replaced."""

    def pair(m: re.Match[str]) -> str:
        if not _SECRET_KEY.search(m.group(1)):
            return m.group(0)
        return f'"{m.group(1)}":"{REDACTED}"'

    return _JSON_PAIR.sub(pair, text)


def _cut(text: str, full: int, limit: int) -> str:
    if full <= limit and len(text) <= limit:
        return text
    return f"{text[:limit]}... [{max(full, len(text)) - limit} more characters cut]"


def shown_text(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """`shown(value)` as one string (a span attribute)."""
    out = shown(value, limit)
    return out if isinstance(out, str) else orjson.dumps(out).decode()


# -- a tool's exception text ---------------------------------------------------------

MAX_REASON = 160
MAX_TRACEBACK = 4_000
Scrub = Callable[[str], str]  # a source's own redaction, first (its URLs by endpoint)

_ERROR_KEYS = (
    r"(?:pass(?:word|wd)?|secret|token|api[_-]?key|apikey|key|auth\w*|credential\w*"
    r"|session|cookie|signature|sig)"
)
_ERROR_TEXT = (
    # "Authorization: Bearer abc", "token abc123": shorter values than the text rule's
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {REDACTED}"),
    # password=..., "api_key": "...", auth: ...
    (
        re.compile(
            rf"(?i)([\"']?\b\w*{_ERROR_KEYS}\b[\"']?\s*[:=]\s*)"
            r"(?!(?:bearer|basic|token)\s)([\"']?)[^\s\"',;&]+\2"
        ),
        rf"\1\2{REDACTED}\2",
    ),
    # other vendor key shapes (GitHub, Slack, Stripe's sk_live_...)
    (re.compile(r"\b(?:orc|sk|pk|rk|ghp|gho|xox[abpr])[_-][A-Za-z0-9_-]{8,}"), REDACTED),
    # long opaque strings with letters and digits (hex, base64 and the like, not a path)
    (re.compile(r"\b(?=[\w+-]*\d)(?=[\w+-]*[A-Za-z])[A-Za-z0-9+_-]{32,}={0,2}"), REDACTED),
)


def redact_error_text(text: str) -> str:
    """Free text from an exception with every secret-looking part masked."""
    for pattern, replacement in _ERROR_TEXT:
        text = pattern.sub(replacement, text)
    return _SECRET_TEXT.sub(REDACTED, text)


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def reason(exc: BaseException, limit: int = MAX_REASON, scrub: Scrub | None = None) -> str:
    """A one-line, redacted, capped account of `exc`: its message, else its class.
    `scrub` goes first (a tool's own redaction: its URLs named by their endpoint)."""
    message = " ".join(str(exc).split())
    if scrub is not None:
        message = scrub(message)
    return cap(redact_error_text(message), limit) if message else type(exc).__name__


def traceback_of(exc: BaseException, limit: int = MAX_TRACEBACK, scrub: Scrub | None = None) -> str:
    """`exc`'s traceback, redacted, its last `limit` characters (the raise is at the end)."""
    text = "".join(traceback.format_exception(exc))
    text = redact_error_text(scrub(text) if scrub is not None else text)
    return text if len(text) <= limit else "..." + text[-(limit - 3) :]
