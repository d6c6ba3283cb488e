"""`orchestra serve` exporting its traces over OTLP/HTTP, as an operator turns it on.

The standard variables alone (`OTEL_EXPORTER_OTLP_ENDPOINT`) switch tracing on;
the spans of the gateway, the session host and the registry (three processes)
reach a real HTTP receiver started here, which decodes the protobuf with
`opentelemetry-proto`, and one message's spans form one trace.
"""

from __future__ import annotations

import gzip
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from runtime.testing import served as orchestra_serve

pytestmark = pytest.mark.e2e


class Receiver:
    """A tiny OTLP/HTTP traces receiver: POST /v1/traces, protobuf bodies."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.add(self.path, self.headers.get("Content-Type", ""), request)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, path: str, content_type: str, request: ExportTraceServiceRequest) -> None:
        assert content_type == "application/x-protobuf"
        found = []
        for rs in request.resource_spans:
            resource = {a.key: _value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    found.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_id": span.parent_span_id.hex(),
                            "attributes": {a.key: _value(a.value) for a in span.attributes},
                            "resource": resource,
                            "scope": ss.scope.name,
                        }
                    )
        with self.lock:
            self.paths.append(path)
            self.spans += found


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_serve_exports_one_trace_per_message_over_otlp_http(
    receiver: Receiver, tmp_path: Path
) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within 0.1 s, not 5 s
        "OTEL_SERVICE_NAME": "orchestra-under-test",
    }
    trace_id = uuid.uuid4().hex
    with orchestra_serve("--hosts", "1", home=tmp_path, env=env) as s, s.client() as api:
        sid = api.post("/v1/sessions", json={"agent": "chatbot", "subject": "ann"}).json()[
            "session_id"
        ]
        r = api.post(
            f"/v1/sessions/{sid}/messages",
            json={"text": "book a haircut tomorrow at 10"},
            headers={"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"},
        )
        assert r.status_code == 200, r.text
        [p] = r.json()["proposals"]
        confirm_trace = uuid.uuid4().hex
        c = api.post(
            f"/v1/proposals/{p['proposal_id']}/confirm",
            headers={"traceparent": f"00-{confirm_trace}-{uuid.uuid4().hex[:16]}-01"},
        )
        assert c.status_code == 200 and c.json()["status"] == "EXECUTED"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with receiver.lock:
                names = {x["name"] for x in receiver.spans if x["trace_id"] == confirm_trace}
            if {"proposal confirm", "proposal dispatch"} <= names:
                break
            time.sleep(0.2)
    with receiver.lock:
        spans = list(receiver.spans)
        paths = set(receiver.paths)
    assert paths == {"/v1/traces"}
    mine = [x for x in spans if x["trace_id"] == trace_id]
    by_name = {x["name"]: x for x in mine}
    assert "invoke_agent chatbot" in by_name, sorted(by_name)
    gateway = by_name["POST /v1/sessions/{session_id}/messages"]
    agent = by_name["invoke_agent chatbot"]
    assert agent["parent_id"] == gateway["span_id"]
    assert agent["attributes"]["gen_ai.agent.name"] == "chatbot"
    assert agent["attributes"]["orchestra.session_id"] == sid
    assert gateway["resource"]["orchestra.component"] == "gateway"
    assert agent["resource"]["orchestra.component"] == "session_host"
    assert {x["resource"]["service.name"] for x in mine} == {"orchestra-under-test"}
    tools = [x for x in mine if x["name"].startswith("execute_tool ")]
    assert tools and all(x["parent_id"] == agent["span_id"] for x in tools)
    assert all(x["attributes"]["gen_ai.tool.call.id"] for x in tools)
    confirmed = [x for x in spans if x["trace_id"] == confirm_trace]
    names = {x["name"]: x for x in confirmed}
    assert names["proposal confirm"]["resource"]["orchestra.component"] == "registry"
    assert (
        names["proposal confirm"]["parent_id"]
        == names["POST /v1/proposals/{proposal_id}/confirm"]["span_id"]
    )
    assert names["proposal dispatch"]["parent_id"] == names["proposal confirm"]["span_id"]
