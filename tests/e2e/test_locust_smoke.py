"""A short Locust run (10 users, 15 s) of loadtests/locustfile.py against `orchestra serve`.

The serve process comes from `runtime.testing.served()` (own ORCHESTRA_HOME,
embedded Valkey, key read from its ready file); Locust runs headless in a
subprocess (it monkey-patches the standard library with gevent, so never in
this process) and writes its CSV statistics, which the test reads.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.testing import served as orchestra_serve

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
ROUTES = ("/v1/sessions", "/v1/sessions/[id]/messages", "/v1/proposals/[id]/confirm")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.timeout(90)
def test_locust_journeys_run_without_failures(tmp_path: Path) -> None:
    with orchestra_serve("--hosts", "1", home=tmp_path / "home") as served:
        env = {
            **os.environ,
            "ORCHESTRA_API_KEY": served.key,
            "LOCUST_THINK_MIN": "0.1",
            "LOCUST_THINK_MAX": "0.4",
        }
        prefix = tmp_path / "smoke"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "-u",
                "10",
                "-r",
                "10",
                "-t",
                "15s",
                "--host",
                served.url,
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        code, out = served.stop()
    assert code == 0, out
    report = run.stdout[-3000:] + run.stderr[-3000:]
    assert run.returncode == 0, report  # Locust exits 1 when any request failed

    stats = {(r["Type"], r["Name"]): r for r in _rows(Path(f"{prefix}_stats.csv"))}
    total = stats[("", "Aggregated")]
    assert int(total["Failure Count"]) == 0, report
    for route in ROUTES:
        row = stats.get(("POST", route))
        assert row is not None and int(row["Request Count"]) > 0, (route, report)
        assert int(row["Failure Count"]) == 0, (route, report)
    assert not Path(f"{prefix}_failures.csv").read_text().strip().splitlines()[1:], report

    journeys = {r["agent"]: r for r in _rows(Path(f"{prefix}_journeys.csv"))}
    for agent in ("chatbot", "onboarding", "admin"):
        assert int(journeys[agent]["completed"]) > 0, (agent, journeys, report)
        assert int(journeys[agent]["failed"]) == 0, (agent, journeys, report)
