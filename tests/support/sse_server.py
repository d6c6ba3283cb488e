"""A scripted local HTTP server answering whole JSON or a Server-Sent Events stream.

The model adapters are tested over real HTTP, through the providers' own SDKs,
against fakes that speak each provider's wire format (tests/support/fake_anthropic.py,
tests/support/fake_openai.py). This is their shared machinery: a real
`ThreadingHTTPServer` on 127.0.0.1 serving a queue of scripted replies and
recording every request.

A `Stream` is written as HTTP/1.1 chunked transfer encoding, one chunk per SSE
event and flushed at once, as the providers do. Its items may also `Pause`,
`Hold` the stream until the test sets a gate (so a test can see the first deltas arrive
while the server has not sent the rest) or `Drop` the connection mid-body (the
client then sees an incomplete chunked body, as when a proxy or the provider
cuts a stream).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOLD_LIMIT_S = 10.0  # a Hold never outlives a test that forgot its gate


@dataclass(frozen=True)
class Reply:
    """A whole JSON reply, sent after `delay` seconds."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Event:
    """One SSE event: an optional `event:` line and a `data:` line (JSON, or raw text)."""

    data: Any
    event: str | None = None

    def encode(self) -> bytes:
        data = self.data if isinstance(self.data, str) else json.dumps(self.data)
        head = f"event: {self.event}\n" if self.event else ""
        return f"{head}data: {data}\n\n".encode()


@dataclass(frozen=True)
class Hold:
    """Send nothing more until `gate` is set."""

    gate: threading.Event


@dataclass(frozen=True)
class Pause:
    """Send nothing for `seconds`."""

    seconds: float


@dataclass(frozen=True)
class Drop:
    """Close the connection here, without finishing the chunked body."""


StreamItem = Event | Hold | Pause | Drop


@dataclass(frozen=True)
class Stream:
    """A `text/event-stream` reply, begun after `delay` seconds."""

    items: tuple[StreamItem, ...]
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


Script = Reply | Stream


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ScriptedServer:
    """Serves `POST` requests from a queue of `Script`s, in order.

    `answer()` picks the reply to a request from the next scripted one (None
    when the queue is empty); subclasses override it with the provider's rules.
    `sent` lists the SSE events written so far, in order (each is listed just
    before its bytes are written, so a client never reads one not yet listed).
    """

    def __init__(self) -> None:
        self.script: deque[Script] = deque()
        self.received: list[Received] = []
        self.sent: list[Event] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def queue(self, *replies: Script) -> None:
        with self._lock:
            self.script.extend(replies)

    def answer(self, request: Received, scripted: Script | None) -> Script:
        if scripted is None:
            return Reply(500, {"error": "script exhausted"})
        return scripted

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                received = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw or b"{}"),
                )
                with fake._lock:
                    fake.received.append(received)
                    scripted = fake.script.popleft() if fake.script else None
                reply = fake.answer(received, scripted)
                self.close_connection = True
                if isinstance(reply, Reply):
                    self._send_json(reply)
                else:
                    self._send_stream(reply)

            def _send_json(self, reply: Reply) -> None:
                time.sleep(reply.delay)
                data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("connection", "close")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _send_stream(self, reply: Stream) -> None:
                time.sleep(reply.delay)
                self.send_response(reply.status)
                self.send_header("content-type", "text/event-stream; charset=utf-8")
                self.send_header("cache-control", "no-cache")
                self.send_header("transfer-encoding", "chunked")
                self.send_header("connection", "close")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.flush()
                for item in reply.items:
                    if isinstance(item, Hold):
                        item.gate.wait(HOLD_LIMIT_S)
                    elif isinstance(item, Pause):
                        time.sleep(item.seconds)
                    elif isinstance(item, Drop):
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    else:
                        data = item.encode()
                        with fake._lock:  # before the bytes: a client may read them at once
                            fake.sent.append(item)
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
