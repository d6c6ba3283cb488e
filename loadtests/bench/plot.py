"""docs/bench/latest.png from docs/bench/latest.json (matplotlib).

From this Python when it has matplotlib, else from the peer venv's:
`<venv>/bin/python -m loadtests.bench.plot JSON PNG` (run from the repository
root; only the standard library and matplotlib are imported on that path).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import ROOT, say
from .report import LABELS


def plot(data: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in LABELS if data["results"].get(k)]
    labels = [LABELS[k].split(" ", 1)[1].replace(" (", "\n(").replace(", ", "\n") for k in keys]
    res = [data["results"][k] for k in keys]
    colors = {
        "bare": "#9e9e9e",
        "orchestra": "#1565c0",
        "orchestra_1host": "#64b5f6",
        "langgraph": "#ef6c00",
    }
    runs = (data.get("latency") or {}).get("runs", [])
    fig, axes = plt.subplots(1, 3 if runs else 2, figsize=(20 if runs else 13, 5.4))
    ax1, ax2 = axes[0], axes[1]
    if runs:
        latency_panel(axes[2], runs)
    bars = ax1.bar(labels, [r["ok_rps"] for r in res], color=[colors[k] for k in keys])
    for bar, r in zip(bars, res, strict=True):
        note = f"{r['ok_rps']:.0f}"
        if r["error_pct"] >= 0.01:
            note += f"\n({r['error_pct']:.1f} % errors)"
        ax1.annotate(
            note,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax1.set_ylabel("successful requests / s (higher is better)")
    ax1.set_title("Throughput, 100 connections, 1 tool call per message")
    ax1.margins(y=0.18)
    width = 0.25
    xs = range(len(keys))
    for j, (q, shade) in enumerate((("p50_ms", 0.45), ("p95_ms", 0.7), ("p99_ms", 1.0))):
        ax2.bar(
            [x + (j - 1) * width for x in xs],
            [r[q] for r in res],
            width,
            label=q.split("_")[0],
            color=[colors[k] for k in keys],
            alpha=shade,
        )
    ax2.set_xticks(list(xs))
    ax2.set_xticklabels(labels)
    ax2.set_yscale("log")
    ax2.set_ylabel("latency ms (log scale, lower is better)")
    ax2.set_title("Latency p50 / p95 / p99")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=8)
    m = data.get("machine", {})
    fig.suptitle(
        f"Orchestra HTTP benchmark ({m.get('nproc')} cores, {m.get('cpu_model', '')}; "
        f"{data['config']['client']}, {data['config']['duration_s']:g}s per run, "
        f"median of {len(data.get('rounds') or []) or 1} round(s); "
        f"{time.strftime('%Y-%m-%d', time.localtime(data['finished_at']))})",
        fontsize=10,
    )
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


RUN_COLORS = {"orchestra": "#1565c0", "bare": "#9e9e9e", "peer": "#ef6c00"}


def latency_panel(ax: Any, runs: list[dict[str, Any]]) -> None:
    """Added latency (JSON) and TTFT overhead (SSE), p50 / p95 / p99 per run."""
    names = [
        f"{r['label'].replace('langgraph', 'LangGraph')}\n{r['users']} users"
        + ("\n(TTFT)" if r["mode"] == "sse" else "")
        for r in runs
    ]
    shown = [r.get("added_ms") or r.get("ttft_overhead_ms") or {} for r in runs]
    width = 0.25
    for j, (q, shade) in enumerate((("p50", 0.45), ("p95", 0.7), ("p99", 1.0))):
        ax.bar(
            [x + (j - 1) * width for x in range(len(runs))],
            [max(0.1, v.get(q, 0.0)) for v in shown],
            width,
            label=q,
            color=[RUN_COLORS[r["kind"]] for r in runs],
            alpha=shade,
        )
    ax.set_xticks(list(range(len(runs))))
    ax.set_xticklabels(names, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("ms added to the model's and tools' time (log, lower is better)")
    ax.set_title("Latency added: lognormal 0.8 s tool (JSON), TTFT 300 ms (SSE)")
    ax.legend()


def render_plot(data_path: Path, png: Path, venv: Path) -> bool:
    try:
        plot(json.loads(data_path.read_text()), png)
        return True
    except ImportError:
        pass
    python = venv / "bin" / "python"
    if not python.exists():
        say("no matplotlib here and no peer venv: PNG not written (pip install matplotlib)")
        return False
    cmd = [str(python), "-m", "loadtests.bench.plot", str(data_path), str(png)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0 and "No module named 'matplotlib'" in r.stderr:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "matplotlib"], capture_output=True
        )
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        say(f"plot failed: {r.stderr[-600:]}")
    return r.returncode == 0


if __name__ == "__main__":
    plot(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
