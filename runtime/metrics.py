"""Prometheus metrics recorded wherever the work happens (actors or in-process).

Every process keeps its own `REGISTRY`; actors hand out `exposition()` and a
gateway merges the texts of all actors (see gateway/metrics.py), so one
scrape shows the whole cluster. Labels are bounded: agent, tier, tool,
result, error class, host index — never a session id or user text.
"""

from __future__ import annotations

from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

REGISTRY = CollectorRegistry(auto_describe=True)

_MS_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 3000, 5000, 10000)

CHAT_DURATION = Histogram(
    "orchestrator_chat_duration_ms",
    "Wall time of one user message, model and tools included (ms).",
    ["agent"],
    buckets=_MS_BUCKETS,
    registry=REGISTRY,
)
TOOL_DURATION = Histogram(
    "tool_execution_duration_ms",
    "Wall time of one tool execution (ms).",
    ["tier", "tool", "result"],
    buckets=_MS_BUCKETS,
    registry=REGISTRY,
)
RECURSION_DEPTH = Histogram(
    "recursion_depth_used",
    "Tool calls of one tier triggered by one user message.",
    ["agent", "tier"],
    buckets=(0, 1, 2, 3, 4, 5, 10),
    registry=REGISTRY,
)
# Named without the `_total` suffix so the exposed sample is exactly
# `soft_confirm_window_hits{tier,result}` as API.md lists it.
WINDOW_HITS = Gauge(
    "soft_confirm_window_hits",
    "Soft-confirm decisions (a monotonic count): result=success|rejected|superseded|expired"
    "|unclear (a message that did not answer a pending proposal clearly).",
    ["tier", "result"],
    registry=REGISTRY,
)
MESSAGES = Counter("orchestra_messages", "User messages handled.", ["agent"], registry=REGISTRY)
ERRORS = Counter(
    "orchestra_errors", "Errors by agent and class.", ["agent", "error_class"], registry=REGISTRY
)
PROPOSAL_TRANSITIONS = Counter(
    "orchestra_proposal_transitions",
    "Proposal state transitions.",
    ["tier", "to"],
    registry=REGISTRY,
)
OUTCOME_UNKNOWN = Counter(
    "orchestra_outcome_unknown",
    "Approved executions whose effect is unknown (cut short, not idempotent): to reconcile.",
    ["tool"],
    registry=REGISTRY,
)
TOOL_RESENDS = Counter(
    "orchestra_tool_resends",
    "Calls of an idempotent tool sent again with the same key after an attempt whose "
    "effect could not be read or that the tool did not take.",
    ["tool"],
    registry=REGISTRY,
)
REDISPATCHES = Counter(
    "orchestra_redispatches",
    "Idempotent tools dispatched again with the same key after a cut-short call.",
    ["tool"],
    registry=REGISTRY,
)
BREAKER_CHANGES = Counter(
    "orchestra_breaker_transitions", "Circuit breaker state changes.", ["to"], registry=REGISTRY
)
RETRIES = Counter(
    "orchestra_model_retries", "Model call retries.", ["error_class"], registry=REGISTRY
)
MODEL_LATENCY = Histogram(
    "orchestra_model_latency_ms",
    "Latency of one model call (ms).",
    ["model"],
    buckets=_MS_BUCKETS,
    registry=REGISTRY,
)
MODEL_TOKENS = Counter(
    "orchestra_model_tokens", "Model tokens.", ["model", "kind"], registry=REGISTRY
)
LIVE_SESSIONS = Gauge(
    "orchestra_live_sessions", "Sessions held in memory.", ["host"], registry=REGISTRY
)
MAILBOX_DEPTH = Gauge(
    "orchestra_mailbox_depth", "Messages waiting in session mailboxes.", ["host"], registry=REGISTRY
)
ADMISSION_RUNNING = Gauge(
    "orchestra_admission_running",
    "Operations a session host is running (turns, loads, reads).",
    ["host"],
    registry=REGISTRY,
)
ADMISSION_QUEUE = Gauge(
    "orchestra_admission_queue_depth",
    "Operations waiting for a session host to take them.",
    ["host"],
    registry=REGISTRY,
)
ADMISSION_REJECTED = Counter(
    "orchestra_admission_rejected",
    "Operations a session host refused with 503 (its queue was full).",
    ["host"],
    registry=REGISTRY,
)


M = TypeVar("M", bound=MetricWrapperBase)
_CHILDREN: dict[tuple[MetricWrapperBase, tuple[str, ...]], MetricWrapperBase] = {}


def child(metric: M, *values: str) -> M:
    """`metric.labels(*values)`, kept: the hot paths ask for the same few series on
    every turn, and `labels()` validates and locks each time. Labels are bounded
    (module docstring), and so is this cache."""
    got = _CHILDREN.get((metric, values))
    if got is None:
        got = _CHILDREN[(metric, values)] = metric.labels(*values)
    return got  # type: ignore[return-value]  # keyed by `metric`: its own child type


def exposition() -> bytes:
    """This process's metrics in Prometheus text format."""
    return generate_latest(REGISTRY)


def prime(agent: str, tools: list[tuple[str, str]]) -> None:
    """Create an agent's series at zero so a fresh /metrics already lists them."""
    CHAT_DURATION.labels(agent)
    MESSAGES.labels(agent)
    for tier in ("T1", "T2", "T3"):
        RECURSION_DEPTH.labels(agent, tier)
    for tier, tool in tools:
        TOOL_DURATION.labels(tier, tool, "ok")
    for result in ("success", "rejected", "superseded", "expired", "unclear"):
        WINDOW_HITS.labels("T2", result)
