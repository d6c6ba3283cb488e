"""deploy/grafana/orchestra.json: Grafana-shaped, and every PromQL name exists.

The metric names a panel may use are those of the exposition a gateway
serves: a fresh copy of `runtime.metrics` (so the process-wide registry the
other tests read stays untouched) with every metric touched once, merged
with the gateway's own HTTP metrics by `gateway.metrics.merge_expositions`,
exactly as /metrics does.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import HttpMetrics, merge_expositions
from runtime import metrics as runtime_metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "orchestra.json"

# Labels Prometheus attaches to every scraped series.
TARGET_LABELS = frozenset({"instance", "job", "le", "service"})

# PromQL words that look like identifiers but are not metric names.
KEYWORDS = frozenset(
    {
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
        "group_right", "offset", "bool", "inf", "nan", "atan2", "start", "end",
    }
)  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", re.IGNORECASE
)
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
# An identifier not preceded by a word char, `$` (Grafana variable) or `.`
# (the exponent of 1e3 or a decimal), then what may follow a metric name.
_IDENT = re.compile(r"(?<![\w$.])([A-Za-z_:][A-Za-z0-9_:]*)\s*([{\[)(]|$|[^\w\s]|\s)")


def parse_promql(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) referenced by `expr`.

    Metric names: identifiers followed by `{`, `[`, `)`, an operator or the
    end, that are neither called like functions nor PromQL keywords. Label
    names: those of grouping clauses and of `{...}` matchers.
    """
    labels: set[str] = set()
    text = expr
    for m in _GROUPING.finditer(text):
        labels.update(x.strip() for x in m.group(2).split(",") if x.strip())
    text = _GROUPING.sub(" ", text)
    for m in _SELECTOR.finditer(_STRING.sub('""', text)):
        labels.update(_MATCHER_LABEL.findall(m.group(2)))
    text = _STRING.sub('""', text)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = _RANGE.sub("[]", text)
    names = set()
    for m in _IDENT.finditer(text):
        name, after = m.group(1), m.group(2)
        if after == "(" or name.lower() in KEYWORDS:
            continue  # a function call or aggregation, or a keyword
        names.add(name)
    return names, labels


def _fresh_runtime_metrics() -> ModuleType:
    """A private copy of runtime.metrics: own registry, same definitions."""
    spec = importlib.util.spec_from_file_location("_dashboard_metrics", runtime_metrics.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _touch(metric: MetricWrapperBase) -> None:
    names = getattr(metric, "_labelnames", ())
    child: Any = metric.labels(*(f"x{i}" for i in range(len(names)))) if names else metric
    if hasattr(child, "observe"):
        child.observe(1)
    else:
        child.inc()


def exposed() -> dict[str, set[str]]:
    """Sample name -> label names, of everything a gateway's /metrics can show."""
    mod = _fresh_runtime_metrics()
    found = [v for v in vars(mod).values() if isinstance(v, MetricWrapperBase)]
    assert len(found) >= 10, "runtime.metrics defines fewer metrics than expected"
    for metric in found:
        _touch(metric)
    http = HttpMetrics()
    http.observe("GET", "/healthz", 200, 1.0)
    text = merge_expositions([mod.exposition(), http.exposition()]).decode()
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


def load_dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text())
    assert isinstance(data, dict)
    return data


def targets(dash: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) for every query of every panel (rows included)."""
    out = []
    for panel in _all_panels(dash):
        for t in panel.get("targets", []):
            out.append((panel["title"], t["expr"]))
    return out


def _all_panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for p in dash["panels"]:
        panels.append(p)
        panels.extend(p.get("panels", []))  # panels inside collapsed rows
    return panels


@pytest.fixture(scope="module")
def dash() -> dict[str, Any]:
    return load_dashboard()


@pytest.fixture(scope="module")
def names() -> dict[str, set[str]]:
    return exposed()


def test_dashboard_is_grafana_shaped(dash: dict[str, Any]) -> None:
    assert dash["title"] == "Orchestra"
    assert dash["uid"] and len(dash["uid"]) <= 40
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    ds_vars = [
        v
        for v in dash["templating"]["list"]
        if v["type"] == "datasource" and v["query"] == "prometheus"
    ]
    inputs = [i for i in dash.get("__inputs", []) if i.get("pluginId") == "prometheus"]
    assert ds_vars or inputs, "no Prometheus data source variable or __inputs entry"
    ds_names = {f"${{{v['name']}}}" for v in ds_vars} | {f"${{{i['name']}}}" for i in inputs}

    panels = _all_panels(dash)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    queries = 0
    for p in panels:
        pos = p["gridPos"]
        assert {"x", "y", "w", "h"} <= pos.keys(), p["title"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, p["title"]
        if p["type"] == "row":
            continue
        assert p["title"], "a panel without a title"
        assert p["datasource"]["type"] == "prometheus", p["title"]
        assert p["datasource"]["uid"] in ds_names, p["title"]
        assert p["targets"], f"{p['title']}: no queries"
        ref_ids = [t["refId"] for t in p["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), p["title"]
        for t in p["targets"]:
            assert t["expr"].strip(), p["title"]
            assert t.get("datasource", p["datasource"])["uid"] in ds_names, p["title"]
            queries += 1
    assert queries >= 13


def test_panels_do_not_overlap(dash: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for p in dash["panels"]:
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = p["title"]


def test_every_metric_in_the_dashboard_exists(
    dash: dict[str, Any], names: dict[str, set[str]]
) -> None:
    missing = []
    for title, expr in targets(dash):
        metrics, _ = parse_promql(expr)
        assert metrics, f"{title}: no metric found in {expr!r}"
        missing += [f"{title}: {m}" for m in sorted(metrics) if m not in names]
    assert not missing, f"metrics not in the exposition: {missing}"


def test_every_label_in_the_dashboard_exists(
    dash: dict[str, Any], names: dict[str, set[str]]
) -> None:
    bad = []
    for title, expr in targets(dash):
        metrics, labels = parse_promql(expr)
        known = set(TARGET_LABELS).union(*(names.get(m, set()) for m in metrics))
        bad += [f"{title}: {lb}" for lb in sorted(labels - known)]
    assert not bad, f"labels no referenced metric has: {bad}"


def test_variables_use_existing_metrics(dash: dict[str, Any], names: dict[str, set[str]]) -> None:
    for var in dash["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
        assert m, f"unexpected variable query {query!r}"
        assert m.group(1) in names and m.group(2) in names[m.group(1)], query


def test_documented_metrics_are_exposed(names: dict[str, set[str]]) -> None:
    # API.md promises these on /metrics.
    for n in (
        "orchestrator_chat_duration_ms_bucket",
        "tool_execution_duration_ms_bucket",
        "recursion_depth_used_bucket",
        "soft_confirm_window_hits",
    ):
        assert n in names
    assert names["soft_confirm_window_hits"] >= {"tier", "result"}


@pytest.mark.parametrize(
    ("expr", "metrics", "labels"),
    [
        (
            "histogram_quantile(0.95, sum by (agent, le) (max without (instance) "
            '(rate(orchestrator_chat_duration_ms_bucket{agent=~"$agent"}[$__rate_interval]))))',
            {"orchestrator_chat_duration_ms_bucket"},
            {"agent", "le", "instance"},
        ),
        ("sum(up)", {"up"}, set()),
        ("a_total / b_total * 1e3", {"a_total", "b_total"}, set()),
        ('60 * sum by (to) (x{to!="open", tier="T2"}[5m] offset 1h)', {"x"}, {"to", "tier"}),
        ("sum(rate(y[1m])) by (z) > bool 0", {"y"}, {"z"}),
    ],
)
def test_parse_promql(expr: str, metrics: set[str], labels: set[str]) -> None:
    assert parse_promql(expr) == (metrics, labels)


def test_a_nonexistent_metric_is_caught(names: dict[str, set[str]]) -> None:
    """The checker itself: a panel with a misspelt metric must fail it."""
    bogus = 'sum by (agent) (rate(orchestra_message_total{agent="chatbot"}[5m]))'
    found, _ = parse_promql(bogus)
    assert found == {"orchestra_message_total"}
    assert not found <= names.keys()
