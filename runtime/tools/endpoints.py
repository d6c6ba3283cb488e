"""How a tool's endpoint is named: by scheme, host and port, never more.

A configured URL may hold secrets: a password in its userinfo, a token in its
query, a key in a path segment. Whatever names an endpoint (an error, a
reply, an audit event, a log line, a trace) names it `endpoint_of(url)`:
`https://host:443`. Text that may quote the URL (an HTTP library's error, a
server's error body) goes through `redact(text, url)` first: every URL in it
becomes its endpoint, and the configured URL's userinfo, path and query are
cut out wherever they appear on their own (the whole path, the whole query
and each of its values, the userinfo and each of its parts).

The HTTP clients and the MCP SDK log request URLs themselves (`httpx`'s
`HTTP Request: POST <url>` at INFO, the SDK's `Connecting to ... <url>` at
DEBUG); `guard_library_logs()` puts a filter on those loggers that rewrites
every URL of a record to its endpoint before any handler sees it.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote, urlsplit

REDACTED = "[redacted]"
_URL = re.compile(r"""\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'"<>()\[\]{}]+""")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# loggers of the libraries our tools use that put request URLs in their records
LIBRARY_LOGGERS = (
    "httpx",
    "httpx2",
    "mcp.client.streamable_http",
    "mcp.client.sse",
    "mcp.client.auth.oauth2",
)
_MIN_SECRET = 3  # a shorter part ("/", "a") is not worth cutting out of the text


def endpoint_of(url: str) -> str:
    """`scheme://host:port` of `url` (the scheme's default port when it has none)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an invalid URL)"
    scheme = parts.scheme.lower()
    if not scheme or not host:
        return "(an invalid URL)"
    port = port if port is not None else _DEFAULT_PORTS.get(scheme)
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port is not None else "")


def redact_urls(text: str) -> str:
    """`text` with every URL in it replaced by its endpoint."""
    return _URL.sub(lambda m: endpoint_of(m.group(0)), text)


def redact(text: str, url: str | None = None) -> str:
    """`text` with every URL named by its endpoint and, when `url` is given, its
    userinfo, path and query cut out wherever they still appear."""
    out = redact_urls(text)
    if url is None:
        return out
    for part in sorted(_secret_parts(url), key=len, reverse=True):
        out = out.replace(part, REDACTED)
    return out


def _secret_parts(url: str) -> set[str]:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return {url}
    found: set[str] = set()
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    for piece in (userinfo, *userinfo.split(":"), parts.path, parts.query, parts.fragment):
        for form in (piece, unquote(piece)):
            if len(form) >= _MIN_SECRET:
                found.add(form)
    for pair in parts.query.split("&"):
        _, _, value = pair.partition("=")
        for form in (value, unquote(value)):
            if len(form) >= _MIN_SECRET:
                found.add(form)
    return found


class RedactUrls(logging.Filter):
    """Rewrites a record's message so that every URL in it is its endpoint."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record: leave it to logging's own error path
            return True
        cleaned = redact_urls(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactUrls()


def guard_library_logs() -> None:
    """Put `RedactUrls` on the libraries' loggers (idempotent)."""
    for name in LIBRARY_LOGGERS:
        target = logging.getLogger(name)
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
