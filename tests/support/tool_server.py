"""A real local HTTP endpoint for HTTP tools, recording every request.

Paths (any method; arguments are the JSON body, or the query string of a GET):

- `/echo`: 200 JSON `{"method", "args", "key", "tenant", "session"}`;
- `/text`: 200 `text/plain`;
- `/status/CODE[/anything...]`: answers CODE (`?retry_after=S` adds `Retry-After: S`);
- `/garbled`: 200 whose body claims `Content-Encoding: gzip` and is not;
- `/badjson`: 200 `application/json` whose body does not parse;
- `/big?bytes=N`: 200 JSON `{"blob": "xxx..."}` of about N bytes;
- `/slowfirst/N`: the first N calls with a key (or without one) sleep
  `first_sleep_ms` (query) before answering as `/echo`;
- `/flaky/N`: the first N calls with an Idempotency-Key (or without one) answer
  `?status=` (503 by default, `?retry_after=` as above), later ones as `/echo`;
- `/effect`: a write that *dedupes*: the first call with a key has an effect
  and its response is kept; a repeat of the key returns that response without
  a second effect (a call without a key always has one);
- `/effect-nodedupe`: a write that does not: every call is an effect;
- `/refund`: the same as `/effect` (the endpoint docs/TOOLS.md's example calls).

`sleep_ms` (in the query string or the JSON body) makes any call sleep first;
an effect is applied before the sleep, so a caller killed during the sleep
leaves the effect done (the kill test of exactly-once execution).

`GET /_state` answers the record (`calls`, `effects` per key, `total_effects`,
`calls_per_key`), for a test that runs the server in another process;
`POST /_reset` clears it.

    python -m tests.support.tool_server --port 9000

In a test, `ToolServer()` serves on a free port in a thread.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

NO_KEY = "-"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def args(self) -> Any:
        return self.query if self.method == "GET" else self.body


class ToolServer:
    def __init__(self, port: int = 0) -> None:
        self.calls: list[Call] = []
        self.effects: Counter[str] = Counter()  # key -> effects applied
        self.calls_per_key: Counter[str] = Counter()
        self.total_effects = 0
        self._first: dict[str, dict[str, Any]] = {}  # key -> its first effect's response
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def start(self) -> ToolServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> ToolServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": [c.__dict__ for c in self.calls],
                "effects": dict(self.effects),
                "calls_per_key": dict(self.calls_per_key),
                "total_effects": self.total_effects,
            }

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.effects.clear()
            self.calls_per_key.clear()
            self._first.clear()
            self.total_effects = 0

    def answer(self, call: Call) -> tuple[int, dict[str, str], bytes]:
        """The reply to `call` (the status, headers, body); effects are applied here."""
        key = call.key or NO_KEY
        echo = {
            "method": call.method,
            "args": call.args,
            "key": call.key,
            "tenant": call.headers.get("x-orchestra-tenant"),
            "session": call.headers.get("x-orchestra-session"),
        }
        extra = {"Retry-After": call.query["retry_after"]} if "retry_after" in call.query else {}
        parts = call.path.strip("/").split("/")
        if parts[0] == "refund":
            parts[0] = "effect"
        with self._lock:
            seen = self.calls_per_key[key]  # calls with this key before this one
            self.calls.append(call)
            self.calls_per_key[key] += 1
            if parts[0] in ("effect", "effect-nodedupe"):
                if parts[0] == "effect" and call.key is not None and key in self._first:
                    return _json(200, self._first[key])
                self.total_effects += 1
                self.effects[key] += 1
                done = {"effect": self.total_effects, "key": call.key, "args": call.args}
                if call.key is not None:
                    self._first.setdefault(key, done)
        _sleep(call)
        if parts[0] in ("effect", "effect-nodedupe"):
            return _json(200, done)
        if parts[0] == "echo":
            return _json(200, echo)
        if parts[0] == "text":
            return 200, {"Content-Type": "text/plain"}, b"plain words"
        if parts[0] == "garbled":
            return 200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, b"{no}"
        if parts[0] == "badjson":
            return 200, {"Content-Type": "application/json"}, b'{"ok": tru'
        if parts[0] == "big":
            return _json(200, {"blob": "x" * int(call.query.get("bytes", "100000"))})
        if parts[0] == "slowfirst" and len(parts) == 2:
            if seen < int(parts[1]):
                time.sleep(float(call.query.get("first_sleep_ms", "1000")) / 1000)
            return _json(200, echo)
        if parts[0] == "status" and len(parts) >= 2:
            code = int(parts[1])
            return code, {"Content-Type": "text/plain", **extra}, f"status {code} body".encode()
        if parts[0] == "flaky" and len(parts) == 2:
            if seen < int(parts[1]):
                code = int(call.query.get("status", "503"))
                return code, {"Content-Type": "text/plain", **extra}, b"try again"
            return _json(200, echo)
        return 404, {"Content-Type": "text/plain"}, b"no such path"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/_state":
                    status, headers, data = _json(200, owner.state())
                elif parts.path == "/_reset":
                    owner.reset()
                    status, headers, data = _json(200, {"reset": True})
                else:
                    headers_in = {k.lower(): v for k, v in self.headers.items()}
                    call = Call(self.command, parts.path, query, headers_in, body)
                    status, headers, data = owner.answer(call)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _sleep(call: Call) -> None:
    raw = call.query.get("sleep_ms")
    if raw is None and isinstance(call.body, dict):
        raw = call.body.get("sleep_ms")
    if raw is not None:
        time.sleep(float(raw) / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    opts = parser.parse_args()
    server = ToolServer(opts.port)
    print(f"tool server at {server.base_url}", flush=True)
    try:
        server.server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        server.server.server_close()


if __name__ == "__main__":
    main()
