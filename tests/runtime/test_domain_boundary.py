"""The runtime knows nothing of the demo's business: services, bookings and
appointments are the salon plugin's words, and no module outside `salon/` uses
them (code, docstrings, the console's files)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_WORDS = re.compile(r"\b(services?|bookings?|booked|appointments?)\b", re.IGNORECASE)
SUFFIXES = {".py", ".js", ".html", ".css", ".toml"}


def mentions(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*")):
        if path.suffix not in SUFFIXES or "__pycache__" in path.parts:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if DEMO_WORDS.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return found


def test_no_module_outside_the_demo_package_speaks_of_its_business() -> None:
    assert [m for p in ("runtime", "actors", "gateway") for m in mentions(p)] == []


def test_the_check_sees_the_demo_words_where_they_are() -> None:
    assert any("salon/" in m for m in mentions("salon"))  # the pattern finds them


DEMO_IMPORT = re.compile(r"^\s*(from\s+salon[\s.]|import\s+salon\b)", re.MULTILINE)


def demo_imports(folder: Path) -> list[str]:
    return [
        str(path.relative_to(ROOT))
        for path in sorted(folder.rglob("*.py"))
        if DEMO_IMPORT.search(path.read_text(encoding="utf-8"))
    ]


def test_the_runtime_tests_do_not_import_the_demo() -> None:
    """The runtime's unit tests use `runtime.testing`'s agents; `salon` has its own
    tests (tests/salon) and the e2e journeys."""
    assert demo_imports(ROOT / "tests" / "runtime") == []
    assert demo_imports(ROOT / "tests" / "salon")  # the check sees a demo import


LOADS_NO_DEMO = """
import importlib, pathlib, sys
import tests.conftest, tests.runtime.conftest
for path in sorted(pathlib.Path("tests/runtime").glob("*.py")):
    importlib.import_module("tests.runtime." + path.stem)
print(sorted(m for m in sys.modules if m == "salon" or m.startswith("salon.")))
"""


def test_the_runtime_tests_and_their_fixtures_load_no_demo_module() -> None:
    """Not even indirectly: the shared fixtures (tests/conftest.py) name the demo's
    agents by class path only, so a run of tests/runtime never imports `salon`."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", LOADS_NO_DEMO],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == "[]"
