"""A real MCP server, on the official SDK, for the MCP tool source's tests.

Its tools cover what Orchestra reads from a server:

- `get_customer` (annotated read-only: T1) answers structured content;
- `add_note` (no hints: T2) answers text, and records the `_meta` idempotency
  key it was sent;
- `delete_customer` (destructive and idempotent: T3) answers structured content;
- `fail` answers `isError` with its reason; `slow` sleeps `ms` first;
- `snapshot` answers an image (a content kind that is not text);
- `crash` (stdio only) ends the server's process in the middle of the call.

Every call is recorded (tool, arguments, idempotency key, tenant, and over
HTTP the Authorization header): `GET /calls` on the
HTTP app, and `POST /calls/reset` clears them.

    python -m tests.support.mcp_server --port 9100     # streamable HTTP at /mcp
    python tests/support/mcp_server.py --stdio         # stdio (what `command` spawns)

In a test, `McpHttpServer()` runs it under uvicorn in a thread on a free port.
This file imports only the SDK and the standard library, so it runs by path
in a bare environment (a stdio child gets no PYTHONPATH).

`RawMcpServer()` is a server that misbehaves as the SDK's never would, written
on the standard library's HTTP server (streamable HTTP, JSON responses): its
tools `wrong_id` (answers under another request id), `hang` (never answers),
`off_schema` (a result whose `content` is not a list) and `big` (a text of
`n` bytes). It counts the calls of each tool (`calls`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import mcp.types as types
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

IDEMPOTENCY_META_KEY = "orchestra/idempotency_key"
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def build_server(name: str = "crm", crashable: bool = False) -> MCPServer:
    """A fresh server and its own call log (`server.calls`). `crashable`: `crash`
    exits the process (a server in a test's own process must not)."""
    server: MCPServer = MCPServer(name, log_level="WARNING")
    calls: list[dict[str, Any]] = []
    server.calls = calls  # type: ignore[attr-defined]

    def record(tool: str, args: dict[str, Any], ctx: Context) -> str | None:
        meta = ctx.request_context.meta or {}
        key = meta.get(IDEMPOTENCY_META_KEY)
        tenant = meta.get("orchestra/tenant_id")
        http = getattr(ctx.request_context.request, "headers", None)  # a Starlette request
        auth = http.get("authorization") if http is not None else None
        calls.append({"tool": tool, "args": args, "key": key, "tenant": tenant, "auth": auth})
        return key if isinstance(key, str) else None

    @server.tool(
        description="Look up a customer by id.",
        annotations=types.ToolAnnotations(read_only_hint=True),
    )
    def get_customer(customer_id: str, ctx: Context) -> dict[str, Any]:
        record("get_customer", {"customer_id": customer_id}, ctx)
        return {"id": customer_id, "name": f"Customer {customer_id}"}

    @server.tool(description="Add a note to a customer.", structured_output=False)
    def add_note(customer_id: str, text: str, ctx: Context) -> str:
        key = record("add_note", {"customer_id": customer_id, "text": text}, ctx)
        return f"noted for {customer_id}: {text} (key {key})"

    @server.tool(
        description="Delete a customer.",
        annotations=types.ToolAnnotations(destructive_hint=True, idempotent_hint=True),
    )
    def delete_customer(customer_id: str, ctx: Context) -> dict[str, Any]:
        key = record("delete_customer", {"customer_id": customer_id}, ctx)
        return {"deleted": customer_id, "key": key}

    @server.tool(description="Always fails, with `reason`.")
    def fail(reason: str, ctx: Context) -> str:
        record("fail", {"reason": reason}, ctx)
        raise ToolError(reason)

    @server.tool(description="Sleeps `ms` milliseconds, then answers.")
    async def slow(ms: int, ctx: Context) -> dict[str, Any]:
        record("slow", {"ms": ms}, ctx)
        await asyncio.sleep(ms / 1000)
        return {"slept_ms": ms}

    @server.tool(description="A one-pixel picture.", structured_output=False)
    def snapshot(ctx: Context) -> types.ImageContent:
        record("snapshot", {}, ctx)
        return types.ImageContent(
            type="image", data=base64.b64encode(PNG_1PX).decode(), mime_type="image/png"
        )

    @server.tool(description="Ends the server process mid-call (stdio servers only).")
    async def crash(ctx: Context) -> str:
        record("crash", {}, ctx)
        if not crashable:
            raise ToolError("this server does not crash")
        os._exit(3)

    @server.custom_route("/calls", methods=["GET"])  # type: ignore[untyped-decorator]
    async def list_calls(request: Request) -> Response:
        return JSONResponse({"calls": calls})

    @server.custom_route("/calls/reset", methods=["POST"])  # type: ignore[untyped-decorator]
    async def reset_calls(request: Request) -> Response:
        calls.clear()
        return JSONResponse({"calls": []})

    return server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class McpHttpServer:
    """`build_server()` over streamable HTTP under uvicorn, in a thread."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.mcp = build_server()
        config = uvicorn.Config(
            self.mcp.streamable_http_app(), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    @property
    def calls(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.mcp.calls  # type: ignore[attr-defined]
        return found

    def start(self) -> McpHttpServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def __enter__(self) -> McpHttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


RAW_TOOLS = ("wrong_id", "hang", "off_schema", "big")


class RawMcpServer:
    """A streamable-HTTP MCP server that misbehaves on purpose (see the module
    docstring), at `url`, in a thread."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/mcp"

    def start(self) -> RawMcpServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> RawMcpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """The JSON-RPC response to `request` (None: no answer, ever)."""
        rid, method = request.get("id"), request.get("method")
        params = request.get("params") or {}
        if method == "initialize":
            result: dict[str, Any] = {
                "protocolVersion": params.get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "raw", "version": "1"},
            }
        elif method == "tools/list":
            tools = [{"name": n, "inputSchema": {"type": "object"}} for n in RAW_TOOLS]
            result = {"tools": tools}
        elif method == "tools/call":
            name = str(params.get("name"))
            with self._lock:
                self.calls[name] += 1
            if name == "hang":
                self.stopping.wait(60)
                return None
            if name == "wrong_id":
                text = {"type": "text", "text": "for someone else"}
                return {"jsonrpc": "2.0", "id": f"{rid}-other", "result": {"content": [text]}}
            if name == "off_schema":
                result = {"content": "not a list of blocks"}
            else:
                n = int((params.get("arguments") or {}).get("n", 10))
                result = {"content": [{"type": "text", "text": "x" * n}], "isError": False}
        else:
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "no"}}
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _empty(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:  # no server-initiated stream
                self._empty(405)

            def do_DELETE(self) -> None:
                self._empty(200)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                message = json.loads(self.rfile.read(length) or b"{}")
                if "id" not in message:  # a notification
                    self._empty(202)
                    return
                reply = owner.answer(message)
                if reply is None:
                    return  # the connection stays open, unanswered, until the server stops
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--stdio", action="store_true", help="serve on stdin/stdout")
    opts = parser.parse_args()
    if opts.stdio:
        build_server(crashable=True).run("stdio")
        return
    server = McpHttpServer(opts.port)
    print(f"MCP test server at {server.url}", flush=True)
    server.server.run()


if __name__ == "__main__":
    main()
