"""`/metrics`: the merged Prometheus exposition of every process, plus the gateway's own.

Each process (actors, or the in-process runtime) renders its own registry;
`merge_expositions()` parses those texts and sums samples with the same
name and labels (counters, gauges, histogram buckets, sums and counts), so
one scrape shows the whole cluster. `*_created` samples keep the earliest
value instead of a sum. The result is rendered by prometheus_client itself,
so names, HELP/TYPE lines and label order are exactly what it would print.

`HttpMetrics` are this gateway process's request counters and latencies,
labelled by route template (`/v1/sessions/{session_id}`), never by id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

log = logging.getLogger("orchestra.gateway")

_LabelKey = tuple[str, tuple[tuple[str, str], ...]]


class _Family:
    __slots__ = ("doc", "name", "samples", "type", "unit")

    def __init__(self, name: str, doc: str, type_: str, unit: str) -> None:
        self.name = name
        self.doc = doc
        self.type = type_
        self.unit = unit
        self.samples: dict[_LabelKey, float] = {}


class _MergedCollector(Collector):
    def __init__(self, families: Iterable[_Family]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        for fam in self._families:
            metric = Metric(fam.name, fam.doc, fam.type)
            metric.unit = fam.unit
            for (sample_name, labels), value in fam.samples.items():
                metric.add_sample(sample_name, dict(labels), value)
            yield metric


def merge_expositions(texts: Iterable[bytes | str]) -> bytes:
    """One Prometheus text exposition from many (identical series are summed).

    A text that does not parse is left out whole (and logged), never half-merged.
    """
    families: dict[str, _Family] = {}
    for raw in texts:
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            parsed_families = list(text_string_to_metric_families(text))
        except (UnicodeDecodeError, ValueError, TypeError) as exc:
            log.warning("left out an unparseable metrics text: %s", exc)
            continue
        for parsed in parsed_families:
            fam = families.get(parsed.name)
            if fam is None:
                fam = families[parsed.name] = _Family(
                    parsed.name, parsed.documentation, parsed.type, parsed.unit
                )
            elif not fam.doc:
                fam.doc = parsed.documentation
            for s in parsed.samples:
                key: _LabelKey = (s.name, tuple(sorted(s.labels.items())))
                old = fam.samples.get(key)
                if old is None:
                    fam.samples[key] = s.value
                elif s.name.endswith("_created"):
                    fam.samples[key] = min(old, s.value)
                else:
                    fam.samples[key] = old + s.value
    return generate_latest(_MergedCollector(families.values()))


_MS_BUCKETS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class HttpMetrics:
    """Request counts and latency of this gateway process (one registry per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._counted: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.requests = Counter(
            "orchestra_http_requests",
            "HTTP requests handled by this gateway, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "orchestra_http_request_duration_ms",
            "HTTP request latency in this gateway (ms), by route template.",
            ["method", "route"],
            buckets=_MS_BUCKETS,
            registry=self.registry,
        )
        self.backend_up = Gauge(
            "orchestra_gateway_backend_metrics_up",
            "1 when the last /metrics scrape reached every runtime process, else 0.",
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, ms: float) -> None:
        # the children kept: `labels()` validates and locks on every request
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = self._counted[(method, route, status)] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        counted[0].inc()
        counted[1].observe(ms)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
