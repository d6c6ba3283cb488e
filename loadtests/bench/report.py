"""The report: the machine, per-round results combined, ratios, targets, the table.

Only the standard library is imported here (the plot, drawn from the peer venv
when this Python has no matplotlib, reads `LABELS`).
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

from .common import ROOT


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = int(line.split()[1]) / 2**20
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "git": f"{head}{' (with uncommitted changes)' if dirty else ''}",
        "nproc": os.cpu_count(),
        "cpu_model": cpu or platform.processor(),
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def ratios(results: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    a, b, b1, c = (results.get(k) for k in ("bare", "orchestra", "orchestra_1host", "langgraph"))
    if a and b:
        out["b_over_a_rps"] = b["ok_rps"] / max(1e-9, a["ok_rps"])
    if b and c:
        out["b_over_c_rps"] = b["ok_rps"] / max(1e-9, c["ok_rps"])
        out["c_over_b_p95"] = c["p95_ms"] / max(1e-9, b["p95_ms"])
    if b and b1:
        out["hosts2_over_hosts1_rps"] = b["ok_rps"] / max(1e-9, b1["ok_rps"])
    return out


def combine_rounds(data: dict[str, Any]) -> None:
    """Per path, the round with the median throughput; ratios: the median of the
    per-round ratios (each round's paths ran back to back, so its ratios are paired)."""
    rounds = data["rounds"]
    data["ratios_by_round"] = [ratios(r) for r in rounds]
    data["results"] = {}
    for key in LABELS:
        runs = [r[key] for r in rounds if r.get(key)]
        if runs:
            runs.sort(key=lambda r: r["ok_rps"])
            chosen = dict(runs[(len(runs) - 1) // 2])
            chosen["ok_rps_by_round"] = [round(r[key]["ok_rps"], 1) for r in rounds if r.get(key)]
            data["results"][key] = chosen
    names = {k for r in data["ratios_by_round"] for k in r}
    data["ratios"] = {
        k: statistics.median([r[k] for r in data["ratios_by_round"] if k in r]) for k in names
    }
    profile = next((r["orchestra"].get("profile") for r in rounds if r.get("orchestra")), None)
    if profile:
        data["profile"] = profile
        for r in rounds:
            if r.get("orchestra"):
                r["orchestra"].pop("profile", None)
        data["results"].get("orchestra", {}).pop("profile", None)


def targets_status(data: dict[str, Any]) -> dict[str, Any]:
    r = data["ratios"]
    out: dict[str, Any] = {}
    if "b_over_a_rps" in r:
        out["full_path_ge_80pct_of_bare"] = {
            "value": r["b_over_a_rps"],
            "met": r["b_over_a_rps"] >= 0.8,
        }
        out["full_path_ge_1.4x_bare"] = {
            "value": r["b_over_a_rps"],
            "met": r["b_over_a_rps"] >= 1.4,
        }
    if "b_over_c_rps" in r:
        out["ge_5x_langgraph_rps"] = {"value": r["b_over_c_rps"], "met": r["b_over_c_rps"] >= 5}
        out["p95_le_fifth_of_langgraph"] = {
            "value": r["c_over_b_p95"],
            "met": r["c_over_b_p95"] >= 5,
        }
    sessions = data.get("sessions") or {}
    steps = (sessions.get("memory") or {}).get("steps") or []
    if steps:
        worst = max(s["bytes_per_session"] for s in steps)
        out["lt_50kb_per_idle_session"] = {"value_kb": worst / 1024, "met": worst < 50 * 1024}
    cold = sessions.get("cold_start_ms") or {}
    if cold:
        # Two readings: the whole first request over HTTP (which includes what any
        # request costs on this machine; see bare_request_ms), and what a session's
        # coming to life adds to it (first minus second message).
        first, penalty = cold["first_message"]["p50"], cold["first_minus_second_p50"]
        out["cold_start_lt_5ms"] = {"value_ms_p50": first, "met": first < 5}
        out["cold_penalty_lt_5ms"] = {"value_ms_p50": penalty, "met": penalty < 5}
    out.update(latency_targets(data))
    return out


def latency_run(data: dict[str, Any], label: str, users: int) -> dict[str, Any] | None:
    for run in (data.get("latency") or {}).get("runs", []):
        if run["label"] == label and run["users"] == users:
            return dict(run)
    return None


def latency_targets(data: dict[str, Any]) -> dict[str, Any]:
    """Issue 16's targets for this 2-core machine."""
    out: dict[str, Any] = {}
    json_1000 = latency_run(data, "orchestra json", 1000)
    if json_1000 and json_1000["added_ms"].get("n"):
        p99 = json_1000["added_ms"]["p99"]
        out["added_p99_le_25ms_at_1000_json"] = {"value_ms": p99, "met": p99 <= 25}
    sse_200 = latency_run(data, "orchestra sse", 200)
    if sse_200 and sse_200["ttft_overhead_ms"].get("n"):
        ttft, token = sse_200["ttft_overhead_ms"]["p99"], sse_200["token_delay_ms"]["p99"]
        out["ttft_overhead_p99_le_15ms_at_200_streams"] = {"value_ms": ttft, "met": ttft <= 15}
        out["token_delay_p99_le_60ms_at_200_streams"] = {"value_ms": token, "met": token <= 60}
    sse_1000 = latency_run(data, "orchestra sse", 1000)
    if sse_1000:
        errors = sum(sse_1000["errors"].values())
        out["no_errors_at_1000_streams"] = {"errors": errors, "met": errors == 0}
    return out


def latency_table(data: dict[str, Any]) -> list[str]:
    runs = (data.get("latency") or {}).get("runs", [])
    if not runs:
        return []
    rows = [
        "",
        f"{'latency (ms over the scheduled time)':36} {'users':>6} {'ok/s':>6} {'p50':>7} "
        f"{'p90':>7} {'p95':>7} {'p99':>7} {'tok p50':>8} {'tok p99':>8} {'errors':>7} "
        f"{'cli %':>6} {'busy %':>7}",
    ]
    for r in runs:
        shown = r.get("added_ms") or r.get("ttft_overhead_ms") or {}
        tok = r.get("token_delay_ms") or {}
        what = r["label"] + (" added" if r["mode"] == "json" else " TTFT over")
        rows.append(
            f"{what:36} {r['users']:6d} {r['ok_per_s']:6.0f} {shown.get('p50', 0):7.1f} "
            f"{shown.get('p90', float('nan')):7.1f} {shown.get('p95', 0):7.1f} "
            f"{shown.get('p99', 0):7.1f} "
            f"{tok.get('p50', float('nan')):8.1f} {tok.get('p99', float('nan')):8.1f} "
            f"{sum(r['errors'].values()):7d} {r['client']['cpu_pct']:6.0f} "
            f"{r['cpu']['machine_busy_pct']:7.0f}"
        )
    return rows


LABELS = {
    "bare": "a. bare ceiling (FastAPI + 1 Ray call)",
    "orchestra": "b. Orchestra full path, 2 hosts",
    "orchestra_1host": "b1. Orchestra full path, 1 host",
    "langgraph": "c. LangGraph peer",
}


def table(data: dict[str, Any]) -> str:
    rows = [
        f"{'path':40} {'req/s':>8} {'ok/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'err %':>7}"
    ]
    for key, label in LABELS.items():
        r = data["results"].get(key)
        if not r:
            if data["results"]:
                rows.append(f"{label:40} {'skipped':>8}")
            continue
        rows.append(
            f"{label:40} {r['rps']:8.0f} {r['ok_rps']:8.0f} {r['p50_ms']:8.1f} "
            f"{r['p95_ms']:8.1f} {r['p99_ms']:8.1f} {r['error_pct']:7.2f}"
        )
    rt = data["ratios"]
    by_round = data.get("ratios_by_round") or []
    if len(by_round) > 1:
        rows.append(f"(median of {len(by_round)} rounds; per round:)")
        for key, label in LABELS.items():
            r = data["results"].get(key)
            if r:
                rows.append(f"  ok/s {label.split(' (')[0]:36} {r['ok_rps_by_round']}")
        for name in ("b_over_a_rps", "b_over_c_rps", "c_over_b_p95"):
            values = [round(r[name], 2) for r in by_round if name in r]
            if values:
                rows.append(f"  {name:41} {values}")
    for name, text in (
        ("b_over_a_rps", "b/a throughput (full path / bare ceiling)"),
        ("b_over_c_rps", "b/c throughput (Orchestra / LangGraph)"),
        ("c_over_b_p95", "c/b p95 latency (LangGraph / Orchestra)"),
        ("hosts2_over_hosts1_rps", "2 hosts / 1 host throughput"),
    ):
        if name in rt:
            rows.append(f"{text:55} {rt[name]:6.2f}")
    s = data.get("sessions") or {}
    if cold := s.get("cold_start_ms"):
        rows.append(
            f"{'cold start: first message p50 / p95 ms':55} "
            f"{cold['first_message']['p50']:6.2f} / {cold['first_message']['p95']:.2f} "
            f"(second message {cold['second_message']['p50']:.2f} ms)"
        )
    if bare := s.get("bare_request_ms"):
        rows.append(f"{'reference: one bare request at a time, p50 ms':55} {bare['p50']:6.2f}")
    for step in (s.get("memory") or {}).get("steps", []):
        rows.append(
            f"{'memory per idle hosted session @ ' + str(step['sessions']):55} "
            f"{step['bytes_per_session'] / 1024:6.1f} KB"
        )
    rows += latency_table(data)
    for name, t in data.get("targets", {}).items():
        rows.append(f"target {name:48} {'MET' if t['met'] else 'MISSED'}")
    return "\n".join(rows)
