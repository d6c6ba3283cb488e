"""HTTP tools: an endpoint declared in the config file (`[tools.NAME] kind = "http"`).

A call sends the validated arguments as JSON (the body for POST, PUT, PATCH
and DELETE; the query string for GET, a non-string value JSON-encoded) with:

- `Idempotency-Key: <proposal id>` for T2/T3 calls (the ledger's key: the same
  approved call always carries the same key; T1 reads carry none),
- `X-Orchestra-Tenant` and `X-Orchestra-Session`,
- the section's `headers` (`env:VAR` values read when the tool is built).

A 2xx JSON body is the result; any other 2xx body is `{"text": body}`.
Failures are classified by status (`runtime.errors.classify_status`):

- 401/403: a `ToolError` saying authentication failed (not the model's fault);
- another 4xx: a `ToolValidationError` with the endpoint's explanation, so the
  model can correct its input;
- 429, 408 and 5xx, and network errors: transient. An `idempotent` endpoint is
  sent again with the same key (`runtime.retry`'s backoff, honouring
  `Retry-After`) while the tool's `timeout_ms` budget lasts; any other fails at
  once with a `ToolError` (sending again could do the work twice).

No answer within the budget raises the builtin `TimeoutError`: the request
may have taken effect, and both the orchestrator (a timed-out tool call) and
the dispatcher (a cut-short execution: `outcome_unknown` unless idempotent)
treat it as such. An HTTP endpoint cannot tell afterwards whether a call took
effect (`outcome=None`).

Each tool keeps one `httpx.AsyncClient`, opened lazily in the running event
loop (tools are built in processes that may have no loop yet) and reopened if
the loop changes; `close_clients()` closes those of the running loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import httpx

from runtime.config.file import HttpToolSection

from ..errors import (
    RETRYABLE,
    ErrorClass,
    ToolError,
    ToolOutcomeUnknown,
    ToolValidationError,
    classify_status,
)
from ..retry import RetryPolicy, retry
from ..tiers import Tier
from .base import Args, Tool, ToolContext
from .envrefs import resolve_env_refs
from .jsonargs import json_checker

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRY_POLICY = RetryPolicy()
DETAIL_CHARS = 300  # of an error body quoted back to the model


class _Transient(ConnectionError):
    """A failure worth sending again (for an idempotent endpoint): `classify()`
    reads `status_code` (429 -> RATE_LIMIT, 5xx -> NETWORK), a network error has
    none and is a `ConnectionError` (NETWORK); `response` carries `Retry-After`."""

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        response: httpx.Response | None = None,
        *,
        sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.response = response
        self.sent = sent  # it reached the endpoint before failing (no answer came back)


class _OutOfBudget(Exception):
    """The next attempt would start after the tool's budget."""


class _NoAnswer(Exception):
    """The budget ran out with the request sent (raised as `TimeoutError` once out of
    `retry`, which would otherwise retry a TimeoutError)."""


class _Endpoint:
    def __init__(self, name: str, section: HttpToolSection, headers: dict[str, str]) -> None:
        self.name = name
        self.section = section
        self.headers = headers
        self.budget_s = section.timeout_ms / 1000
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client.is_closed or self._loop is not loop:
            self._client = httpx.AsyncClient(timeout=self.budget_s, follow_redirects=False)
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

    async def invoke(self, tier: Tier, ctx: ToolContext, args: Args) -> object:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.budget_s
        headers = self.call_headers(tier, ctx)
        client = self.client()

        async def attempt() -> object:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise _NoAnswer
            return self.result(await self.send(client, headers, args, remaining))

        try:
            return await self.attempts(attempt, loop, deadline)
        except _NoAnswer as exc:
            raise TimeoutError(f"{self.name} got no answer within {self.budget_s:g}s") from exc

    async def attempts(
        self,
        attempt: Callable[[], Awaitable[object]],
        loop: asyncio.AbstractEventLoop,
        deadline: float,
    ) -> object:
        """One attempt, or (idempotent) as many as `RETRY_POLICY` and the budget allow."""
        if not self.section.idempotent:
            try:
                return await attempt()
            except _Transient as exc:
                if exc.sent:  # it may have taken effect: never sent twice, never guessed
                    raise ToolOutcomeUnknown(
                        f"{exc}; not retried (the tool is not idempotent)"
                    ) from exc
                raise ToolError(f"{exc}; not retried (the tool is not idempotent)") from exc
        last: list[BaseException] = []

        def note(exc: BaseException, attempt_no: int, delay: float) -> None:
            last.append(exc)

        async def sleep(delay: float) -> None:
            if loop.time() + delay >= deadline:
                raise _OutOfBudget
            await asyncio.sleep(delay)

        try:
            return await retry(attempt, RETRY_POLICY, sleep=sleep, on_retry=note)
        except _Transient as exc:
            raise ToolError(f"{exc} (after {len(last) + 1} attempts)") from exc
        except _OutOfBudget:
            raise ToolError(
                f"{last[-1]}; no time left to send it again within {self.budget_s:g}s "
                f"(after {len(last)} attempts)"
            ) from last[-1]

    async def send(
        self, client: httpx.AsyncClient, headers: dict[str, str], args: Args, timeout_s: float
    ) -> httpx.Response:
        method, url = self.section.method, self.section.url
        if method in BODY_METHODS:
            request = client.build_request(
                method, url, headers=headers, json=args, timeout=timeout_s
            )
        else:
            request = client.build_request(
                method, url, headers=headers, params=_query(args), timeout=timeout_s
            )
        try:
            return await client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _Transient(f"{self.name}: cannot connect to {url}: {_reason(exc)}") from exc
        except httpx.TimeoutException as exc:
            raise _NoAnswer from exc
        except httpx.TransportError as exc:
            # sent, then the connection failed: for an idempotent endpoint the same key
            # makes sending again safe; for another one the outcome is unknown
            raise _Transient(
                f"{self.name}: the connection failed: {_reason(exc)}", sent=True
            ) from exc

    def result(self, response: httpx.Response) -> object:
        status = response.status_code
        if 200 <= status < 300:
            if "json" in response.headers.get("content-type", "").lower():
                try:
                    return response.json()
                except ValueError:
                    pass
            return {"text": response.text}
        kind = classify_status(status)
        detail = response.text[:DETAIL_CHARS].strip()
        if kind is ErrorClass.AUTH:
            raise ToolError(f"{self.name}: authentication failed (HTTP {status}): {detail}")
        if kind in RETRYABLE:
            raise _Transient(f"{self.name}: HTTP {status}: {detail}", status, response)
        if 400 <= status < 500:
            raise ToolValidationError(f"{self.name}: HTTP {status}: {detail}")
        raise ToolError(f"{self.name}: unexpected HTTP {status}: {detail}")


_OPEN: set[_Endpoint] = set()


def _query(args: Args) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in args.items() if v is not None}


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def http_tool(name: str, section: HttpToolSection) -> Tool:
    """The tool `[tools.NAME]` declares (see the module docstring). A header's
    `env:VAR` that is not set is a `ConfigError` naming the header and VAR."""
    where = f"tools.{name}"
    endpoint = _Endpoint(name, section, resolve_env_refs(f"{where}.headers", section.headers))
    tier = section.tier

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
    )


async def close_clients() -> None:
    """Close the HTTP clients opened in the running loop (at shutdown, in tests)."""
    loop = asyncio.get_running_loop()
    for endpoint in [e for e in _OPEN if e._loop is loop]:
        _OPEN.discard(endpoint)
        await endpoint.aclose()
