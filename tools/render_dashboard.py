"""Draw a Grafana dashboard's layout as a PNG, for readers without Grafana.

Each panel becomes a box at its gridPos with its title, type, unit and the
PromQL of every query (with its legend), so docs/OBSERVABILITY.md can show
what deploy/grafana/orchestra.json contains. No data is drawn.

    pip install matplotlib          # a dev tool; not a project dependency
    python tools/render_dashboard.py [--dashboard deploy/grafana/orchestra.json]
                                     [--out docs/dashboard.png]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DASHBOARD = ROOT / "deploy" / "grafana" / "orchestra.json"
DEFAULT_OUT = ROOT / "docs" / "dashboard.png"

WIDTH_PX = 1800  # the 24 grid columns
COL_PX = WIDTH_PX / 24
ROW_PX = 46  # one gridPos height unit (Grafana uses 30px at 1920 wide; text needs more)
HEADER_PX = 90
PAD = 10
DPI = 100
PT_PX = DPI / 72  # pixels per point
MONO_EM = 0.602  # advance of a DejaVu Sans Mono glyph, in em

BG = "#111217"
PANEL_BG = "#181b1f"
BORDER = "#2c3235"
TITLE = "#d8d9da"
MUTED = "#8e8e8e"
EXPR = "#6ccf8e"
ROW = "#33a2e5"


def _lines(panel: dict[str, Any], chars: int) -> list[tuple[str, str]]:
    """(kind, text) lines under a panel's title, wrapped to `chars` columns."""
    out: list[tuple[str, str]] = []
    desc = panel.get("description")
    if desc:
        out += [("desc", s) for s in textwrap.wrap(desc, chars)]
    for t in panel.get("targets", []):
        legend = t.get("legendFormat") or ""
        out.append(("legend", f"{t.get('refId', '?')}: {legend}".rstrip(": ")))
        out += [("expr", s) for s in wrap_promql(t.get("expr", ""), chars)]
    return out


# Break after `(`, `,` or a space, or before `{` or `[`: never inside a name.
_BREAK = re.compile(r"(?<=[(,\s])|(?=[{\[])")


def wrap_promql(expr: str, chars: int, indent: str = "  ") -> list[str]:
    """`expr` in lines of at most `chars` columns, broken between tokens."""
    lines: list[str] = []
    line = ""
    for chunk in _BREAK.split(" ".join(expr.split())):
        room = chars - (len(indent) if lines else 0)
        if line.strip() and len((line + chunk).rstrip()) > room:
            lines.append(line.rstrip())
            line, room = "", chars - len(indent)
        line += chunk if line else chunk.lstrip()
        while len(line.rstrip()) > room:  # one token longer than a line: cut it
            lines.append(line[:room])
            line, room = line[room:], chars - len(indent)
    if line.strip():
        lines.append(line.rstrip())
    return [(indent if i else "") + s for i, s in enumerate(lines)]


def _longest_token(panel: dict[str, Any]) -> int:
    return max(
        (len(c.strip()) for t in panel.get("targets", []) for c in _BREAK.split(t["expr"])),
        default=0,
    )


def _fit(panel: dict[str, Any], w_px: float, h_px: float) -> tuple[float, list[tuple[str, str]]]:
    """The largest font size (pt) whose wrapped lines fit the box."""
    size = 14.0
    while True:
        char_px = size * PT_PX * MONO_EM
        chars = max(20, int((w_px - 2 * PAD) / char_px))
        lines = _lines(panel, chars)
        needed = len(lines) * size * PT_PX * 1.35
        fits = needed <= h_px and _longest_token(panel) + 2 <= chars
        if fits or size <= 7.0:
            return size, lines
        size -= 0.5


def render(dashboard: dict[str, Any], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import FancyBboxPatch
    except ImportError:  # pragma: no cover - a message, not a crash
        sys.exit("render_dashboard needs matplotlib: pip install matplotlib")

    panels = dashboard["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    height = HEADER_PX + rows * ROW_PX + PAD
    plt.rcParams["text.parse_math"] = False  # PromQL is full of `$`
    fig = plt.figure(figsize=(WIDTH_PX / DPI, height / DPI), dpi=DPI, facecolor=BG)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH_PX)
    ax.set_ylim(height, 0)
    ax.axis("off")

    variables = ", ".join(f"${v['name']}" for v in dashboard.get("templating", {}).get("list", []))
    ax.text(PAD, 14, dashboard.get("title", ""), color=TITLE, fontsize=22, weight="bold", va="top")
    ax.text(
        PAD,
        56,
        f"uid {dashboard.get('uid')}  ·  variables: {variables}  ·  "
        "layout drawn from deploy/grafana/orchestra.json by tools/render_dashboard.py "
        "(queries shown, no data)",
        color=MUTED,
        fontsize=11,
        va="top",
    )

    for p in panels:
        g = p["gridPos"]
        x = g["x"] * COL_PX + PAD / 2
        y = HEADER_PX + g["y"] * ROW_PX + PAD / 2
        w = g["w"] * COL_PX - PAD
        h = g["h"] * ROW_PX - PAD
        if p.get("type") == "row":
            ax.text(x, y + h / 2, p.get("title", ""), color=ROW, fontsize=15, weight="bold",
                    va="center")  # fmt: skip
            ax.plot([x, x + w], [y + h - 2, y + h - 2], color=BORDER, linewidth=1)
            continue
        ax.add_patch(
            FancyBboxPatch(
                (x, y),
                w,
                h,
                boxstyle="round,pad=0,rounding_size=6",
                facecolor=PANEL_BG,
                edgecolor=BORDER,
                linewidth=1.2,
            )
        )
        ax.text(x + PAD, y + PAD, p.get("title", ""), color=TITLE, fontsize=15, weight="bold",
                va="top")  # fmt: skip
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        ax.text(x + w - PAD, y + h - PAD / 2, f"{p.get('type', '')} · unit {unit}",
                color=MUTED, fontsize=10, ha="right", va="bottom")  # fmt: skip
        top = y + PAD + 34
        size, lines = _fit(p, w, y + h - PAD - 18 - top)
        step = size * PT_PX * 1.35
        for i, (kind, text) in enumerate(lines):
            style: dict[str, Any] = {
                "desc": {"color": MUTED, "style": "italic", "family": "DejaVu Sans"},
                "legend": {"color": TITLE, "family": "DejaVu Sans Mono", "weight": "bold"},
                "expr": {"color": EXPR, "family": "DejaVu Sans Mono"},
            }[kind]
            ax.text(x + PAD, top + i * step, text, fontsize=size, va="top", **style)

    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, facecolor=BG)
    plt.close(fig)
    _shrink(out)


def _shrink(path: Path) -> None:
    """A 64-colour palette: a third of the bytes, same look (Pillow ships with matplotlib)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        return
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(64)
    small.save(path, optimize=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dashboard", type=Path, default=DEFAULT_DASHBOARD)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    render(json.loads(args.dashboard.read_text()), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
