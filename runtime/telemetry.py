"""OpenTelemetry tracing: off unless configured, and then one trace per message.

The rule: with tracing off (the default) nothing here creates a span; every
instrumented place first asks `enabled()` (one attribute read) and takes its
untraced path. Tracing is turned on per process by `configure(tracer, ...)`
(the SDK setup lives outside the runtime: `actors.tracing`), and the trace
context crosses processes as a W3C `traceparent` string carried in the Ray
envelopes (`carrier()` on one side, `attach()` on the other).

Span names and attributes follow the OpenTelemetry GenAI conventions
(`invoke_agent {agent}`, `chat {model}`, `execute_tool {tool}`, `gen_ai.*`)
plus Orchestra's own (`orchestra.*`: tenant, session, tier, proposal, outcome,
budget left, breaker state). Message text, tool arguments and results go into
spans only with `capture_content`, and always through `runtime.redact`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .redact import shown_text

# GenAI semantic conventions
OPERATION = "gen_ai.operation.name"
AGENT = "gen_ai.agent.name"
REQUEST_MODEL = "gen_ai.request.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
# Orchestra's own
TENANT = "orchestra.tenant_id"
SESSION = "orchestra.session_id"
TIER = "orchestra.tier"
PROPOSAL_ID = "orchestra.proposal.id"
PROPOSAL_STATUS = "orchestra.proposal.status"
OUTCOME = "orchestra.outcome"
BUDGET_LEFT = "orchestra.budget.left."  # + the tier: orchestra.budget.left.T1
BREAKER = "orchestra.breaker.state"

INTERNAL = SpanKind.INTERNAL
SERVER = SpanKind.SERVER
CLIENT = SpanKind.CLIENT

_PROPAGATOR = TraceContextTextMapPropagator()


class _State:
    __slots__ = ("capture", "tracer")

    def __init__(self) -> None:
        self.tracer: Tracer | None = None
        self.capture = False


_STATE = _State()


def configure(tracer: Tracer, *, capture_content: bool = False) -> None:
    """Trace this process's work with `tracer` from now on."""
    _STATE.tracer = tracer
    _STATE.capture = capture_content


def disable() -> None:
    _STATE.tracer = None
    _STATE.capture = False


def enabled() -> bool:
    return _STATE.tracer is not None


def capture_content() -> bool:
    return _STATE.capture


def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    kind: SpanKind = INTERNAL,
    context: Context | None = None,
) -> AbstractContextManager[Span]:
    """A new current span (call only when `enabled()`); an exception that leaves it
    is recorded and sets its status to error."""
    tracer = _STATE.tracer
    if tracer is None:
        raise RuntimeError("tracing is off: check enabled() first")
    return tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes)


def carrier() -> str:
    """The current span's W3C `traceparent` ("" with tracing off or no span)."""
    if _STATE.tracer is None:
        return ""
    out: dict[str, str] = {}
    _PROPAGATOR.inject(out)
    return out.get("traceparent", "")


def extract(headers: Mapping[str, str]) -> Context:
    """The context of an incoming `traceparent` (and `tracestate`) header, if any."""
    return _PROPAGATOR.extract(headers)


def attach(traceparent: str) -> object | None:
    """Make `traceparent` the current context (a token for `detach`), or None when
    there is nothing to attach."""
    if not traceparent or _STATE.tracer is None:
        return None
    return otel_context.attach(_PROPAGATOR.extract({"traceparent": traceparent}))


def detach(token: object | None) -> None:
    if token is not None:
        otel_context.detach(token)  # type: ignore[arg-type]


def content(value: Any) -> str:
    """A value as a span may show it (with `capture_content` only): redacted, capped."""
    return shown_text(value)


# -- turning tracing on from the environment ------------------------------------------
_TRUE = ("1", "true", "yes", "on")


def env_enabled(environ: Mapping[str, str] | None = None) -> bool | None:
    """What the standard OTEL_* variables say: True (an OTLP endpoint or a traces
    exporter is set), False (`OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`),
    or None (they say nothing: the config file decides)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    if (
        exporter
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return True
    return None


def env_capture(environ: Mapping[str, str] | None = None) -> bool | None:
    """`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`, if set."""
    env = os.environ if environ is None else environ
    value = env.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").strip().lower()
    return (value in _TRUE) if value else None


def otel_variables(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The OTEL_* variables of this process (handed to actors on other nodes)."""
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k.startswith("OTEL_")}
