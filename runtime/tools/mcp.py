"""MCP tools: every tool of a server declared as `[mcp.NAME]`, on the official SDK.

Two steps, because the processes that run tools are not the one that starts:

- `discover(name, section)` connects once (`orchestra serve`, at start-up),
  lists the server's tools and returns them as plain JSON-able dicts (name,
  title, description, inputSchema, annotations). An unreachable server or a
  failed handshake is a `ConfigError` naming `mcp.NAME` and the reason.
- `mcp_tools(name, section, infos)` builds the `Tool`s from those dicts without
  connecting; a process's first call opens its one session to the server
  (`runtime.tools.mcp_session`).

The model sees `NAME__tool` (both providers accept `^[a-zA-Z0-9_-]{1,64}$`:
other characters become `_`, and a name too long, or clashing after that, is
cut and ends with a hash of the original). The tier is `tiers[tool]` if the
config gives one, else from the tool's annotations: `readOnlyHint` -> T1,
`destructiveHint` -> T3, otherwise T2. A tool is idempotent when listed in
`idempotent` or annotated `idempotentHint`. A name in `tiers` or `idempotent`
that the server does not have is a `ConfigError` (a typo must not leave a
deletion at T2).

A call validates the arguments against the tool's `inputSchema` and sends
`tools/call`; `section.timeout_ms` bounds the attempt whatever the server does
(it hangs, it answers under another request id). The request's `_meta` carries
`orchestra/tenant_id` and `orchestra/session_id`, and for T2/T3 calls
`orchestra/idempotency_key` (the proposal id: the same approved call always
carries the same key, so a server can deduplicate). The result is the
`structuredContent` if any, else the text contents joined, else
`{"content": [...]}`; `isError` is a `ToolError` with the server's text (the
tool refused). What may have taken effect without our knowing: no answer in
time (the builtin `TimeoutError`), a session lost mid-call, a result off the
protocol or its schema (`ToolOutcomeUnknown`); `runtime.tools.run` sends an
idempotent tool's call again, with the same key, on a new session. A session
that could not connect at all ran nothing (`ToolUnavailable`). Errors name a
`url` server by scheme, host and port only (`runtime.tools.endpoints`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping

import mcp.types as types
from mcp.shared.exceptions import MCPError

from runtime.config.file import McpSection

from ..errors import (
    ConfigError,
    ToolError,
    ToolOutcomeUnknown,
    ToolUnavailable,
    ToolValidationError,
)
from ..tiers import Tier
from .base import Args, Invoke, Tool, ToolContext
from .endpoints import endpoint_of, guard_library_logs, redact
from .jsonargs import json_checker
from .mcp_session import McpSession, connected, not_delivered, reason, session_for

IDEMPOTENCY_META_KEY = "orchestra/idempotency_key"
TENANT_META_KEY = "orchestra/tenant_id"
SESSION_META_KEY = "orchestra/session_id"
MAX_NAME = 64
MAX_PAGES = 100
_BAD_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


async def discover(name: str, section: McpSection) -> list[dict[str, object]]:
    """The server's tools as JSON-able dicts; `ConfigError` if it cannot be reached."""
    guard_library_logs()
    where = f"mcp.{name}"
    target = endpoint_of(section.url) if section.url else section.command or ""
    timeout_s = section.timeout_ms / 1000
    found: list[types.Tool] = []
    try:
        async with asyncio.timeout(timeout_s), connected(where, section) as client:
            cursor: str | None = None
            for _ in range(MAX_PAGES):
                page = await client.list_tools(cursor=cursor)
                found.extend(page.tools)
                cursor = page.next_cursor
                if cursor is None:
                    break
    except ConfigError:
        raise
    except TimeoutError:
        raise ConfigError(f"{where}: {target} did not answer within {timeout_s:g}s") from None
    except Exception as exc:
        why = redact(reason(exc), section.url)
        raise ConfigError(f"{where}: cannot list the tools of {target}: {why}") from exc
    return [_info(t) for t in found]


def _info(tool: types.Tool) -> dict[str, object]:
    data = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    keep = ("name", "title", "description", "inputSchema", "annotations")
    return {k: data[k] for k in keep if k in data}


def mcp_tools(name: str, section: McpSection, infos: list[dict[str, object]]) -> list[Tool]:
    """The `Tool`s of server `name` from its discovered `infos` (no connection)."""
    where = f"mcp.{name}"
    offered = [str(info["name"]) for info in infos]
    listed_idempotent = section.idempotent if isinstance(section.idempotent, list) else []
    for key, listed in (("tiers", list(section.tiers)), ("idempotent", listed_idempotent)):
        for tool in listed:
            if tool not in offered:
                known = ", ".join(offered) or "none"
                raise ConfigError(
                    f"{where}.{key}: the server has no tool {tool!r} (it has: {known})"
                )
    session = session_for(name, section)
    names = model_names(name, offered)
    built: list[Tool] = []
    for info in infos:
        tool = str(info["name"])
        annotations = info.get("annotations")
        hints: Mapping[str, object] = annotations if isinstance(annotations, Mapping) else {}
        tier = section.tiers.get(tool) or tier_from_hints(hints)
        idempotent = (
            section.idempotent is True
            or tool in listed_idempotent
            or hints.get("idempotentHint") is True
        )
        given = info.get("inputSchema")
        schema: dict[str, object] = (
            dict(given) if isinstance(given, Mapping) and given else {"type": "object"}
        )
        qualified = names[tool]
        built.append(
            Tool(
                qualified,
                tier,
                str(info.get("description") or info.get("title") or tool),
                schema,
                _invoker(session, qualified, tool, tier),
                json_checker(qualified, schema, f"{where}: tool {tool!r} inputSchema"),
                idempotent=idempotent,
                outcome=None,
                source="mcp",
                retries=section.retries,
                max_result_bytes=section.max_result_bytes,
            )
        )
    return built


def tier_from_hints(hints: Mapping[str, object]) -> Tier:
    if hints.get("readOnlyHint") is True:
        return Tier.T1
    if hints.get("destructiveHint") is True:
        return Tier.T3
    return Tier.T2


def model_names(server: str, tools: list[str]) -> dict[str, str]:
    """`server__tool` for each tool, fitting `^[a-zA-Z0-9_-]{1,64}$`, all distinct."""
    prefix = f"{_BAD_CHARS.sub('_', server)}__"
    names: dict[str, str] = {}
    taken: set[str] = set()
    for tool in tools:
        name = prefix + (_BAD_CHARS.sub("_", tool) or "_")
        if len(name) > MAX_NAME or name in taken:
            digest = hashlib.sha256(tool.encode()).hexdigest()[:8]
            name = f"{name[: MAX_NAME - 9]}_{digest}"
        if name in taken:
            raise ConfigError(f"mcp.{server}: two tools map to the name {name!r}")
        names[tool] = name
        taken.add(name)
    return names


def _invoker(session: McpSession, qualified: str, tool: str, tier: Tier) -> Invoke:
    async def invoke(ctx: ToolContext, args: Args) -> object:
        meta: dict[str, object] = {TENANT_META_KEY: ctx.tenant_id, SESSION_META_KEY: ctx.session_id}
        if tier is not Tier.T1 and ctx.idempotency_key:
            meta[IDEMPOTENCY_META_KEY] = ctx.idempotency_key
        result = await _call(session, qualified, tool, args, meta)
        return _result(qualified, result)

    return invoke


async def _call(
    session: McpSession, qualified: str, tool: str, args: Args, meta: dict[str, object]
) -> types.CallToolResult:
    """One attempt: `timeout_ms` bounds it all (a handshake, the call), whatever the
    server does (a hang, an answer under another request id...)."""
    timeout_s = session.section.timeout_ms / 1000
    deadline = asyncio.get_running_loop().time() + timeout_s
    for attempt in (1, 2):
        try:
            async with asyncio.timeout_at(deadline):
                client = await session.client()
        except ConfigError:
            raise
        except TimeoutError:
            why = f"no handshake within {timeout_s:g}s"
            raise ToolUnavailable(f"{session.where}: {why}; {qualified} did not run") from None
        except Exception as exc:
            why = session.clean(reason(exc))
            raise ToolUnavailable(f"{session.where}: {why}; {qualified} did not run") from exc
        try:
            async with asyncio.timeout_at(deadline):
                return await client.call_tool(
                    tool,
                    args,
                    read_timeout_seconds=timeout_s,
                    meta=meta,  # type: ignore[arg-type]  # RequestParamsMeta is an open map
                )
        except TimeoutError:
            raise TimeoutError(f"{qualified} got no answer within {timeout_s:g}s") from None
        except MCPError as exc:
            if exc.code == types.REQUEST_TIMEOUT:
                raise TimeoutError(f"{qualified} got no answer within {timeout_s:g}s") from exc
            if exc.code != types.CONNECTION_CLOSED:  # the server refused the request
                cls = ToolValidationError if exc.code == types.INVALID_PARAMS else ToolError
                raise cls(f"{qualified}: {session.clean(exc.message)}") from exc
            failure = await session.lost(client)
            if attempt == 1 and not_delivered(failure):
                continue  # nothing was sent: a new session
            why = session.clean(reason(failure) if failure is not None else exc.message)
            raise ToolOutcomeUnknown(
                f"{session.where}: the connection was lost during {qualified} ({why})"
            ) from exc
        except (ValueError, RuntimeError) as exc:  # a result off the protocol or its schema
            why = session.clean(reason(exc))
            raise ToolOutcomeUnknown(f"{qualified}: its result cannot be read ({why})") from exc
    raise AssertionError("unreachable")


def _result(qualified: str, result: types.CallToolResult) -> object:
    texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
    if result.is_error:
        raise ToolError(f"{qualified}: {' '.join(texts) or 'the tool reported an error'}")
    if result.structured_content is not None:
        return result.structured_content
    if len(texts) == len(result.content):
        return "\n".join(texts)
    return {
        "content": [
            c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in result.content
        ]
    }
