"""Latency with model-like turn times (issue 16, "Measure it"), over HTTP, 25 tenants.

Real turns take seconds with a long tail; what matters then is the latency the
runtime *adds*, not throughput. Closed-loop virtual users (`loadgen.py`, a
separate asyncio process; each user owns one session) measure, side by side:

* **added latency, JSON:** each message's turn sleeps X seconds in a T1 tool (the
  lab agent's `slow`, `!tools slow {"seconds": X}`) with X drawn by the client
  (lognormal, median 0.8 s, sigma 0.5, capped at 4 s, seeded), the model at zero
  latency, so observed - X is exactly what the runtime adds; at 200 and 1,000
  users. The yardstick: the same X slept inside one plain Ray actor call per
  message (`bare_app.py --sleeper`), same users, same draws. The LangGraph peer
  gets `!slow X` with the same draws (200 users).
* **streaming:** SSE turns of a plain message ("hello, what can you do?": the
  model answers without a tool) with `[model] ttft_ms = 300, tokens_per_s = 40,
  latency_sigma = 0`, so token i is due at send + 0.3 s + i / 40: the first
  token's lateness is the TTFT overhead, every token's lateness its delay from
  model to client; errors at 1,000 streams.

The client shares the machine's cores with the servers; its CPU and its event
loop's lag are measured and reported with each run (and the bare yardstick
goes through the same client, so it carries the same client overhead).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from .common import ROOT, say
from .cpu import CpuSnapshot
from .populate import create_sessions, make_tenants
from .procs import PROCS, Proc
from .servers import ensure_peer_venv, start_bare, start_peer, start_serve

LAB_AGENT = '[agents.lab]\nclass = "runtime.testing.agents:LabOrchestrator"\n'
STREAM_MODEL = "[model]\nttft_ms = 300\ntokens_per_s = 40\nlatency_sigma = 0\nseed = 7\n"
TTFT_S, TOKENS_PER_S = 0.3, 40.0
SLEEP = {"median": 0.8, "sigma": 0.5, "cap": 4.0, "seed": 1}
STREAM_TEXT = "hello, what can you do?"
# the model-latency scenario: chatbot turns of a plain message, the scripted model
# taking a fixed 800 ms per call, the chatbot's default history (10 messages), so
# summaries fall due every few turns
MODEL_LATENCY_S = 0.8
MODEL_CONFIG = f"[model]\nlatency_ms = {MODEL_LATENCY_S * 1000:g}\nlatency_sigma = 0\nseed = 7\n"
MODEL_TEXT = "hello, do you have anything free this week?"
STAGGER_S = 1.0  # users start evenly spread over this long (not in lockstep)
START_DELAY_S = 1.5  # the load generators' start-up (imports, connections) before t0


def percentiles(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {"n": 0}
    s = sorted(xs)

    def q(p: float) -> float:
        return s[min(len(s) - 1, int(p * len(s)))]

    return {
        "n": len(s),
        "p50": q(0.50),
        "p90": q(0.90),  # issue 23's model-latency target is a p90
        "p95": q(0.95),
        "p99": q(0.99),
        "max": s[-1],
        "mean": statistics.fmean(s),
    }


def run_users(
    args: argparse.Namespace,
    work: Path,
    label: str,
    url: str,
    kind: str,
    mode: str,
    targets: list[tuple[str, str]],
    root_pid: int,
) -> dict[str, Any]:
    """One closed-loop run of len(targets) users; the load generators are separate
    processes (`--latency-procs`), each with a slice of the users."""
    users = len(targets)
    tag = f"{label.replace(' ', '-')}-{users}"
    start_at = time.time() + START_DELAY_S
    spec: dict[str, Any] = {
        "url": url,
        "kind": kind,
        "mode": mode,
        "targets": targets,
        "start_at": start_at,
        "warmup_s": args.latency_warmup,
        "duration_s": args.duration,
        "timeout_s": 60.0,
        "text": STREAM_TEXT,
        "stagger_s": STAGGER_S,
    }
    if mode == "json":
        spec["sleep"] = SLEEP
    elif mode == "model":
        spec.update(mode="json", fixed_s=MODEL_LATENCY_S, text=MODEL_TEXT)
    else:
        spec.update(ttft_s=TTFT_S, tokens_per_s=TOKENS_PER_S)
    n = max(1, min(args.latency_procs, users))
    procs: list[tuple[Proc, Path]] = []
    for i in range(n):
        part = dict(spec, slice=[i * users // n, (i + 1) * users // n])
        spec_path, out_path = work / f"loadgen-{tag}-{i}.json", work / f"loadgen-{tag}-{i}.out"
        spec_path.write_text(json.dumps(part))
        out_path.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "loadtests.bench.loadgen", str(spec_path), str(out_path)]
        proc = PROCS.start(f"loadgen {tag}", cmd, work / f"loadgen-{tag}-{i}.log", cwd=ROOT)
        procs.append((proc, out_path))
    say(f"{label}: {users} users ({n} load process(es)) for {args.duration:g}s ...")
    window_start = start_at + args.latency_warmup
    time.sleep(max(0.0, window_start - time.time()))
    pids = tuple(p.popen.pid for p, _ in procs)
    before = CpuSnapshot.take(root_pid, pids)
    time.sleep(max(0.0, window_start + args.duration - time.time()))
    after = CpuSnapshot.take(root_pid, pids)
    parts = []
    for proc, out_path in procs:
        try:
            proc.popen.wait(120)
        finally:
            PROCS.stop(proc)
        if not out_path.exists():
            raise RuntimeError(f"the load generator failed: {proc.log.read_text()[-2000:]}")
        parts.append(json.loads(out_path.read_text()))
    ok = sum(len(part["latency_ms"]) for part in parts)
    shown = "json" if mode == "model" else mode
    return summarise(label, kind, shown, users, parts, after.since(before, max(1, ok)))


def summarise(
    label: str, kind: str, mode: str, users: int, parts: list[dict[str, Any]], cpu: dict[str, Any]
) -> dict[str, Any]:
    def joined(key: str) -> list[float]:
        return [x for p in parts for x in p[key]]

    errors: dict[str, int] = {}
    tokens: dict[str, int] = {}
    for p in parts:
        for k, v in p["errors"].items():
            errors[k] = errors.get(k, 0) + v
        for k, v in p["tokens_per_stream"].items():
            tokens[str(k)] = tokens.get(str(k), 0) + v
    ok = len(joined("latency_ms"))
    failed = sum(errors.values())
    window = max(p["window_s"] for p in parts)
    client_cpu = sum(p["client_cpu_s"] for p in parts)
    out: dict[str, Any] = {
        "label": label,
        "kind": kind,
        "mode": mode,
        "users": users,
        "ok": ok,
        "ok_per_s": ok / window,
        "errors": errors,
        "error_pct": 100.0 * failed / max(1, ok + failed),
        "latency_ms": percentiles(joined("latency_ms")),
        "client": {
            "processes": len(parts),
            "cpu_pct": 100.0 * client_cpu / window,  # 100 = one core
            "cpu_us_per_request": 1e6 * client_cpu / max(1, ok),
            "loop_lag_ms": percentiles(joined("lag_ms")),
        },
        "cpu": cpu,
    }
    if mode == "json":
        out["added_ms"] = percentiles(joined("added_ms"))
    else:
        out["ttft_overhead_ms"] = percentiles(joined("ttft_overhead_ms"))
        out["token_delay_ms"] = percentiles(joined("token_delay_ms"))
        out["tokens_per_stream"] = tokens
    shown = out.get("added_ms") or out["ttft_overhead_ms"]
    say(
        f"{label} @ {users}: {out['ok_per_s']:.0f} ok/s, "
        f"{'added' if mode == 'json' else 'TTFT overhead'} p50 {shown.get('p50', 0):.1f} / "
        f"p90 {shown.get('p90', 0):.1f} / p95 {shown.get('p95', 0):.1f} / "
        f"p99 {shown.get('p99', 0):.1f} ms"
        + (
            f", token delay p50 {out['token_delay_ms'].get('p50', 0):.1f} / "
            f"p99 {out['token_delay_ms'].get('p99', 0):.1f} ms"
            if mode == "sse"
            else ""
        )
        + f", errors {errors or 0}; client CPU {out['client']['cpu_pct']:.0f} %, loop lag p99 "
        f"{out['client']['loop_lag_ms'].get('p99', 0):.1f} ms; server CPU per message "
        f"{cpu['server_ms_per_request']:.2f} ms {cpu['ms_per_request_by_role']}; machine busy "
        f"{cpu['machine_busy_pct']:.0f} % of {100 * cpu['cores']} % (others "
        f"{cpu['other_pct']:.0f} %)"
    )
    return out


def _config(work: Path, name: str, text: str) -> Path:
    path = work / name
    path.write_text(text)
    return path


def orchestra_runs(
    args: argparse.Namespace, work: Path, mode: str, levels: list[int]
) -> list[dict[str, Any]]:
    """`orchestra serve --hosts 2` with the scenario's config; one run per level."""
    if mode == "json":
        config, agent, label = _config(work, "latency-json.toml", LAB_AGENT), "lab", "json"
    elif mode == "model":
        config = _config(work, "latency-model.toml", LAB_AGENT + MODEL_CONFIG)
        agent, label = "chatbot", "model"
    else:
        config = _config(work, "latency-sse.toml", LAB_AGENT + STREAM_MODEL)
        agent, label = "chatbot", "sse"
    serve = start_serve(work, 2, f"latency-{label}", config=config)
    try:
        keys = make_tenants(serve, args.tenants)
        sessions = create_sessions(serve.url, keys, max(levels), agent=agent, prefix=label)
        return [
            run_users(
                args,
                work,
                f"orchestra {label}",
                serve.url,
                "orchestra",
                mode,
                sessions[:n],
                serve.gateway_pid(),
            )
            for n in levels
        ]
    finally:
        PROCS.stop(serve.proc)


def bare_runs(args: argparse.Namespace, work: Path, levels: list[int]) -> list[dict[str, Any]]:
    proc, url = start_bare(work, sleeper=True)
    try:
        targets = [(f"s{i}", "-") for i in range(max(levels))]
        return [
            run_users(args, work, "bare json", url, "bare", "json", targets[:n], proc.popen.pid)
            for n in levels
        ]
    finally:
        PROCS.stop(proc)


def peer_runs(args: argparse.Namespace, work: Path, levels: list[int]) -> list[dict[str, Any]]:
    python = ensure_peer_venv(Path(args.venv), Path(args.peer_dir))
    if python is None or not levels:
        return []
    proc, url = start_peer(work, python, Path(args.peer_dir))
    try:
        targets = [(uuid.uuid4().hex, "-") for _ in range(max(levels))]
        return [
            run_users(
                args, work, "langgraph json", url, "peer", "json", targets[:n], proc.popen.pid
            )
            for n in levels
        ]
    finally:
        PROCS.stop(proc)


def phase_latency(args: argparse.Namespace, work: Path, skip: set[str]) -> dict[str, Any]:
    levels, peer_levels = args.latency_users, args.latency_peer_users
    runs: list[dict[str, Any]] = []
    if "orchestra" not in skip and "json" not in skip:
        runs += orchestra_runs(args, work, "json", levels)
    if "bare" not in skip:
        runs += bare_runs(args, work, levels)
    if "peer" not in skip:
        runs += peer_runs(args, work, peer_levels)
    if "orchestra" not in skip and "sse" not in skip:
        runs += orchestra_runs(args, work, "sse", levels)
    if "orchestra" not in skip and "model" not in skip:
        runs += orchestra_runs(args, work, "model", [n for n in levels if n <= 200] or levels[:1])
    return {
        "method": {
            "client": "closed loop, one session and one keep-alive connection per user, "
            "asyncio (uvloop) raw HTTP/1.1, separate process(es) on the same cores",
            "sleep_s": SLEEP,
            "stream_model": {"ttft_ms": TTFT_S * 1000, "tokens_per_s": TOKENS_PER_S, "sigma": 0},
            "stream_text": STREAM_TEXT,
            "model_scenario": {
                "agent": "chatbot (default history)",
                "model_latency_ms": MODEL_LATENCY_S * 1000,
                "text": MODEL_TEXT,
            },
            "users_start_spread_over_s": STAGGER_S,
            "tenants": args.tenants,
            "hosts": 2,
            "warmup_s": args.latency_warmup,
            "duration_s": args.duration,
            "cores": os.cpu_count(),
        },
        "runs": runs,
    }


def run_key(run: dict[str, Any]) -> str:
    return f"{run['label']}@{run['users']}"
