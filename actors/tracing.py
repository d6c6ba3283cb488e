"""The OpenTelemetry SDK of one Orchestra process (gateway, session host, registry).

`setup_tracing(settings, component)` turns tracing on in this process when the
settings say so (`[telemetry] enabled`, or the OTEL_* variables the driver saw,
which travel in the settings so an actor on another node exports to the same
place), and off otherwise: then nothing is set up and `runtime.telemetry`
creates no span. Spans are exported over OTLP/HTTP (`OTEL_EXPORTER_OTLP_*`
decide where) in batches; `console` prints them; `memory` keeps them in the
process for `finished_spans()` (tests, and the actors' `spans()` call).
One provider per process, set up once; `shutdown_tracing()` flushes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, get_current_span

from runtime import Settings
from runtime import telemetry as _telemetry

_provider: TracerProvider | None = None
_memory: InMemorySpanExporter | None = None


def setup_tracing(settings: Settings, component: str) -> bool:
    """Trace this process as `component` if the settings turn tracing on; True if on."""
    global _provider, _memory
    if not settings.telemetry_enabled:
        _telemetry.disable()
        return False
    if _provider is None:
        for key, value in settings.telemetry_env.items():
            os.environ.setdefault(key, value)  # this node's own variables win
        attrs: dict[str, Any] = {"orchestra.component": component}
        if not os.environ.get("OTEL_SERVICE_NAME"):
            attrs[SERVICE_NAME] = "orchestra"
        provider = TracerProvider(resource=Resource.create(attrs))
        exporter: SpanExporter
        if settings.telemetry_exporter == "memory":
            _memory = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(_memory))
        elif settings.telemetry_exporter == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
            provider.add_span_processor(BatchSpanProcessor(exporter))
        _provider = provider
    _telemetry.configure(
        _provider.get_tracer("orchestra"), capture_content=settings.telemetry_capture_content
    )
    return True


def flush_tracing(timeout_ms: int = 5_000) -> bool:
    return _provider.force_flush(timeout_ms) if _provider is not None else True


def shutdown_tracing() -> None:
    """Flush and stop this process's exporter (tracing is off afterwards)."""
    global _provider, _memory
    _telemetry.disable()
    if _provider is not None:
        _provider.shutdown()
    _provider, _memory = None, None


def finished_spans() -> list[dict[str, Any]]:
    """The spans the `memory` exporter kept, as plain dicts (they cross Ray)."""
    if _memory is None:
        return []
    return [span_dict(s) for s in _memory.get_finished_spans()]


def span_dict(s: ReadableSpan) -> dict[str, Any]:
    ctx = s.context
    parent = s.parent
    return {
        "name": s.name,
        "trace_id": f"{ctx.trace_id:032x}" if ctx else "",
        "span_id": f"{ctx.span_id:016x}" if ctx else "",
        "parent_id": f"{parent.span_id:016x}" if parent else "",
        "kind": s.kind.name,
        "status": s.status.status_code.name,
        "attributes": dict(s.attributes or {}),
        "component": (s.resource.attributes.get("orchestra.component") if s.resource else None),
        "start_ns": s.start_time,
        "end_ns": s.end_time,
    }


def tracing_enabled() -> bool:
    return _telemetry.enabled()


@contextmanager
def request_span(method: str, headers: Iterable[tuple[bytes, bytes]]) -> Iterator[Span]:
    """A gateway request's server span (call only with tracing on), continuing the
    trace of an incoming `traceparent` header."""
    incoming = {
        k.decode("latin-1"): v.decode("latin-1")
        for k, v in headers
        if k in (b"traceparent", b"tracestate")
    }
    context = _telemetry.extract(incoming) if incoming else None
    attrs = {"http.request.method": method}
    with _telemetry.span(method, attrs, kind=_telemetry.SERVER, context=context) as span:
        yield span


def annotate(**attributes: str | int | float | bool) -> None:
    """Add Orchestra attributes (`orchestra.<name>`) to the current span, if tracing."""
    if _telemetry.enabled():
        span = get_current_span()
        for key, value in attributes.items():
            span.set_attribute(f"orchestra.{key}", value)
