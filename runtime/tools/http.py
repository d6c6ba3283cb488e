"""HTTP tools: an endpoint declared in the config file (`[tools.NAME] kind = "http"`).

A call sends the validated arguments as JSON (the body for POST, PUT, PATCH
and DELETE; the query string for GET, a non-string value JSON-encoded) with:

- `Idempotency-Key: <proposal id>` for T2/T3 calls (the ledger's key: the same
  approved call always carries the same key; T1 reads carry none),
- `X-Orchestra-Tenant` and `X-Orchestra-Session`,
- the section's `headers` (`env:VAR` values read when the tool is built).

`url` may be `env:VAR` too: the whole URL is read from the environment when
the tool is built (a missing variable, or a value that is not an http(s) URL,
is a `ConfigError` that names the key, never the value).

`invoke` is one attempt, bounded by `timeout_ms`; `runtime.tools.run` sends an
idempotent tool's call again (same key) and bounds all attempts. What an
attempt ends with says what the endpoint did:

- a 2xx: the result: a JSON body (`application/json`), or `{"text": body}`;
  over `max_result_bytes` the body is not read further and the result is the
  truncated text with a note;
- a 2xx whose body cannot be read (a broken encoding, JSON that does not
  parse, the connection dropped mid-body): `ToolOutcomeUnknown`: the endpoint
  did the work, and what it answered is lost;
- 401/403: a `ToolError` (authentication failed, not the model's fault);
  429 and 408: `ToolUnavailable` (it did not take the call; `Retry-After` is
  kept); another 4xx: a `ToolValidationError` with the endpoint's explanation,
  so the model can correct its input: the tool refused;
- a 5xx, a connection that failed after the request was sent:
  `ToolOutcomeUnknown`; no answer within `timeout_ms`: the builtin
  `TimeoutError` (both: it may have taken effect);
- no connection at all: `ToolUnavailable` (nothing was sent).

Errors name the endpoint by scheme, host and port (`runtime.tools.endpoints`):
a URL's userinfo, path and query may be secrets. An HTTP endpoint cannot tell
afterwards whether a call took effect (`outcome=None`).

Each tool keeps one `httpx.AsyncClient`, opened lazily in the running event
loop (tools are built in processes that may have no loop yet) and reopened if
the loop changes; `close_clients()` closes those of the running loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import NoReturn

import httpx

from runtime.config.file import HttpToolSection

from ..errors import (
    ConfigError,
    ErrorClass,
    ToolError,
    ToolOutcomeUnknown,
    ToolUnavailable,
    ToolValidationError,
    classify_status,
    parse_retry_after,
)
from ..tiers import Tier
from .base import Args, Tool, ToolContext
from .endpoints import endpoint_of, guard_library_logs, redact
from .envrefs import ENV_PREFIX, resolve_env_refs
from .jsonargs import json_checker
from .run import truncated

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DETAIL_CHARS = 300  # of an error body quoted back to the model
READ_FACTOR = 4  # a 2xx body is read up to this many times max_result_bytes (then cut)


class _Endpoint:
    def __init__(
        self, name: str, section: HttpToolSection, url: str, headers: dict[str, str]
    ) -> None:
        self.name = name
        self.section = section
        self.url = url
        self.endpoint = endpoint_of(url)  # what errors name
        self.headers = headers
        self.attempt_s = section.timeout_ms / 1000
        self.read_limit = section.max_result_bytes * READ_FACTOR
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client.is_closed or self._loop is not loop:
            self._client = httpx.AsyncClient(timeout=self.attempt_s, follow_redirects=False)
            self._loop = loop
            _OPEN.add(self)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def call_headers(self, tier: Tier, ctx: ToolContext) -> dict[str, str]:
        headers = dict(self.headers)
        headers["X-Orchestra-Tenant"] = ctx.tenant_id
        headers["X-Orchestra-Session"] = ctx.session_id
        if tier is not Tier.T1 and ctx.idempotency_key:
            headers["Idempotency-Key"] = ctx.idempotency_key
        return headers

    def _clean(self, text: str) -> str:
        return redact(text, self.url)

    def _no_answer(self) -> TimeoutError:
        return TimeoutError(
            f"{self.name}: no answer from {self.endpoint} within {self.attempt_s:g}s"
        )

    async def invoke(self, tier: Tier, ctx: ToolContext, args: Args) -> object:
        """One attempt (see the module docstring)."""
        client = self.client()
        headers = self.call_headers(tier, ctx)
        try:
            async with asyncio.timeout(self.attempt_s):
                return await self._attempt(client, headers, args)
        except TimeoutError:
            raise self._no_answer() from None

    async def _attempt(
        self, client: httpx.AsyncClient, headers: dict[str, str], args: Args
    ) -> object:
        method = self.section.method
        if method in BODY_METHODS:
            request = client.build_request(method, self.url, headers=headers, json=args)
        else:
            request = client.build_request(method, self.url, headers=headers, params=_query(args))
        try:
            response = await client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ToolUnavailable(
                f"{self.name}: cannot connect to {self.endpoint} ({self._reason(exc)}); "
                "it did not run"
            ) from exc
        except httpx.TimeoutException as exc:
            raise self._no_answer() from exc
        except httpx.TransportError as exc:
            raise ToolOutcomeUnknown(
                f"{self.name}: the connection to {self.endpoint} failed after the request "
                f"was sent ({self._reason(exc)})"
            ) from exc
        try:
            return await self._answer(response)
        finally:
            await response.aclose()

    async def _answer(self, response: httpx.Response) -> object:
        status = response.status_code
        body = bytearray()
        cut = False
        try:
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > self.read_limit:  # (of an error, DETAIL_CHARS are quoted)
                    cut = True
                    break
        except httpx.TimeoutException as exc:
            raise self._no_answer() from exc
        except (httpx.DecodingError, httpx.TransportError) as exc:
            self._unreadable(status, response, f"its body could not be read ({self._reason(exc)})")
        if 200 <= status < 300:
            return self._result(response, bytes(body), cut)
        self._refused(status, response, bytes(body))

    def _result(self, response: httpx.Response, body: bytes, cut: bool) -> object:
        if cut:
            size = f"more than {self.read_limit} bytes"
            return truncated(self.name, body, self.section.max_result_bytes, size)
        if "json" in response.headers.get("content-type", "").lower():
            try:
                return json.loads(body) if body else {"text": ""}
            except ValueError as exc:
                why = f"its JSON body does not parse ({type(exc).__name__})"
                self._unreadable(response.status_code, response, why)
        return {"text": body.decode(response.encoding or "utf-8", errors="replace")}

    def _unreadable(self, status: int, response: httpx.Response, why: str) -> NoReturn:
        """The status came back, what followed cannot be read."""
        if 200 <= status < 300 or status >= 500:
            raise ToolOutcomeUnknown(
                f"{self.name}: {self.endpoint} answered HTTP {status} and {why}",
                parse_retry_after(response.headers) if status >= 500 else None,
            )
        self._refused(status, response, b"")

    def _refused(self, status: int, response: httpx.Response, body: bytes) -> NoReturn:
        detail = self._clean(body[: DETAIL_CHARS * 4].decode(errors="replace")[:DETAIL_CHARS])
        said = f"{self.name}: {self.endpoint} answered HTTP {status}" + (
            f": {detail.strip()}" if detail.strip() else ""
        )
        hint = parse_retry_after(response.headers)
        kind = classify_status(status)
        if kind is ErrorClass.AUTH:
            raise ToolError(f"{said}; authentication failed")
        if status in (408, 429):
            raise ToolUnavailable(f"{said}; it did not run", hint)
        if 400 <= status < 500:
            raise ToolValidationError(said)
        if status >= 500:
            raise ToolOutcomeUnknown(said, hint)
        raise ToolError(f"{said} (an unexpected status)")

    def _reason(self, exc: BaseException) -> str:
        return self._clean(str(exc) or type(exc).__name__)


_OPEN: set[_Endpoint] = set()


def _query(args: Args) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in args.items() if v is not None}


def resolve_url(where: str, url: str) -> str:
    """The tool's URL, read from the environment when it is `env:VAR`."""
    if not url.startswith(ENV_PREFIX):
        return url
    found = resolve_env_refs(where, {"url": url})["url"].strip()
    if not found.lower().startswith(("http://", "https://")):
        var = url[len(ENV_PREFIX) :].strip()
        raise ConfigError(f"{where}.url: the environment variable {var} is not an http(s) URL")
    return found


def http_tool(name: str, section: HttpToolSection) -> Tool:
    """The tool `[tools.NAME]` declares (see the module docstring). An `env:VAR`
    (the URL, a header) that is not set is a `ConfigError` naming the key and VAR."""
    where = f"tools.{name}"
    url = resolve_url(where, section.url)
    headers = resolve_env_refs(f"{where}.headers", section.headers)
    endpoint = _Endpoint(name, section, url, headers)
    tier = section.tier
    guard_library_logs()

    async def invoke(ctx: ToolContext, args: Args) -> object:
        return await endpoint.invoke(tier, ctx, args)

    return Tool(
        name,
        tier,
        section.description or name,  # not the URL: it would go to the model provider
        section.parameters,
        invoke,
        json_checker(name, section.parameters, f"{where}.parameters"),
        idempotent=section.idempotent,
        outcome=None,
        source="http",
        retries=section.retries,
        max_result_bytes=section.max_result_bytes,
    )


async def close_clients() -> None:
    """Close the HTTP clients opened in the running loop (at shutdown, in tests)."""
    loop = asyncio.get_running_loop()
    for endpoint in [e for e in _OPEN if e._loop is loop]:
        _OPEN.discard(endpoint)
        await endpoint.aclose()
