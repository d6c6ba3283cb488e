"""The docs run as written, against a real `orchestra serve`.

- README.md's "A booking, by hand" block, run by bash as it is (it finds the key
  and URL the serve saved, and sets SID and PID from the responses);
- docs/TOOLS.md's Python module and config, put together as a newcomer would
  (the module on PYTHONPATH, the TOML blocks in one file; the only change is the
  address of the local HTTP and MCP test servers), each tool source exercised;
- `/docs` renders its operations in Chromium with every request to anything but
  the gateway refused (offline), and nothing blocked by the CSP.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Route, expect, sync_playwright

from runtime.testing import Served
from runtime.testing import served as orchestra_serve
from tests.e2e.test_console import CHROMIUM, CHROMIUM_ARGS
from tests.support.mcp_server import McpHttpServer
from tests.support.tool_server import ToolServer

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
TOOLS_MD = REPO / "docs" / "TOOLS.md"


def blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", path.read_text(), re.M | re.S)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with orchestra_serve("--hosts", "1", home=tmp_path_factory.mktemp("home")) as s:
        yield s


def test_readme_curl_block_runs_as_written(served: Served) -> None:
    section = README.read_text().split("## A booking, by hand", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README.md: no bash block under 'A booking, by hand'"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRA_")}
    env["ORCHESTRA_HOME"] = str(served.home)
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.group(1)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    confirmed = json.loads(out.stdout.strip().splitlines()[-1])
    assert confirmed["status"] == "EXECUTED", confirmed
    assert confirmed["tool"] == "book_appointment"
    with served.client() as api:
        audit = api.get("/v1/audit", params={"session_id": confirmed["session_id"]}).json()
    assert [e.get("to") for e in audit["events"]].count("EXECUTED") == 1


def test_docs_render_offline_in_chromium(served: Served) -> None:
    refused: list[str] = []
    problems: list[str] = []

    def only_the_gateway(route: Route) -> None:
        if route.request.url.startswith(served.url + "/"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_the_gateway)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda m: problems.append(m.text) if "Content Security" in m.text else None,
            )
            page.goto(f"{served.url}/docs")
            expect(page.get_by_role("heading", name=re.compile("^Orchestra"))).to_be_visible(
                timeout=15_000
            )
            ops = page.locator(".opblock")
            expect(ops.first).to_be_visible()
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert len(paths) >= 15, paths
            assert any(
                t.replace("\u200b", "") == "/v1/sessions/{session_id}/messages" for t in paths
            )
            # an operation opens, with its parameters, all from /openapi.json
            page.locator(".opblock-summary-path", has_text="/v1/proposals/").first.click()
            expect(page.get_by_text("proposal_id").first).to_be_visible()
        finally:
            browser.close()
    assert refused == [], "the page asked for something outside the gateway"
    assert problems == []


# -- docs/TOOLS.md ----------------------------------------------------------------


@dataclass
class Desk:
    served: Served
    tools: ToolServer
    mcp: McpHttpServer


def tools_md_files(where: Path, tools: ToolServer, mcp: McpHttpServer) -> Path:
    """TOOLS.md's module at the path its first line names, and its TOML blocks in one
    config file (with the test servers' addresses; a block that adds keys to a table
    of an earlier one is merged into it); the config's path."""
    [module] = [b for b in blocks(TOOLS_MD, "python") if b.startswith("# acme/tools.py")]
    (where / "acme").mkdir(parents=True, exist_ok=True)
    (where / "acme" / "tools.py").write_text(module)
    config: dict[str, Any] = {}
    addresses = {"http://127.0.0.1:9000": tools.base_url, "http://127.0.0.1:9100/mcp": mcp.url}
    for block in blocks(TOOLS_MD, "toml"):
        for written, local in addresses.items():
            block = block.replace(written, local)
        merge(config, tomllib.loads(block))
    assert config["tools"]["refund"]["url"] == "env:REFUND_URL"  # the last word on it
    assert config["mcp"]["crm"]["url"] == mcp.url
    path = where / "orchestra.yaml"  # YAML is a superset of JSON
    path.write_text(json.dumps(config))
    return path


def merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for name, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(name), dict):
            merge(into[name], value)
        else:
            into[name] = value


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    where = tmp_path_factory.mktemp("newcomer")
    with ToolServer() as tools, McpHttpServer() as mcp:
        config = tools_md_files(where, tools, mcp)
        env = {
            # TOOLS.md: "PYTHONPATH=. orchestra serve" from the directory that holds acme/
            # (and this checkout, whose code is under test)
            "PYTHONPATH": os.pathsep.join([".", str(REPO)]),
            "REFUND_TOKEN": "Bearer test",
            "REFUND_URL": tools.url("/refund"),  # TOOLS.md: url = "env:REFUND_URL"
        }
        with orchestra_serve(
            "--hosts", "1", "--config", str(config), home=where / "home", env=env, cwd=where
        ) as s:
            yield Desk(s, tools, mcp)


def turn(api: httpx.Client, sid: str, text: str) -> dict[str, Any]:
    r = api.post(f"/v1/sessions/{sid}/messages", json={"text": text})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_tools_md_examples_run_as_written(desk: Desk) -> None:
    with desk.served.client() as api:
        r = api.post("/v1/sessions", json={"agent": "desk", "subject": "newcomer"})
        assert r.status_code == 201, r.text
        assert r.json()["greeting"] == "Order desk: how can I help?"
        sid = r.json()["session_id"]
        looked = turn(api, sid, '!tools lookup_order {"order_id": "o-42"}')
        assert looked["tool_calls"] == [{"tool": "lookup_order", "tier": "T1", "status": "ok"}]
        got = turn(api, sid, '!tools crm__get_customer {"customer_id": "c-1"}')
        assert got["tool_calls"] == [{"tool": "crm__get_customer", "tier": "T1", "status": "ok"}]
        # the two T3 refunds, the Python one and the HTTP one, each confirmed
        for call, tool in (
            ('refund_order {"order_id": "o-42", "amount": 20}', "refund_order"),
            ('refund {"order_id": "o-42", "amount": 20}', "refund"),
        ):
            answer = turn(api, sid, f"!tools {call}")
            [p] = answer["proposals"] or [answer]
            assert (p["tool"], p["tier"], p["status"]) == (tool, "T3", "PENDING")
            done = api.post(f"/v1/proposals/{p['proposal_id']}/confirm").json()
            assert done["status"] == "EXECUTED", done  # was FAILED: NameError on `payments`
            if tool == "refund_order":
                assert done["result"] == {"order_id": "o-42", "refunded": 20.0}
            else:
                [sent] = desk.tools.calls_to("/refund")
                assert sent.key == p["proposal_id"]  # the Idempotency-Key
                assert sent.headers["authorization"] == "Bearer test"


def test_tools_md_module_must_be_importable(tmp_path: Path) -> None:
    """Without PYTHONPATH the serve stops at once, with one line naming the tool."""
    with ToolServer() as tools, McpHttpServer() as mcp:
        config = tools_md_files(tmp_path, tools, mcp)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(
            {
                "ORCHESTRA_HOME": str(tmp_path / "home"),
                "REFUND_TOKEN": "x",
                "REFUND_URL": tools.url("/refund"),
            }
        )
        out = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "serve", "--config", str(config)],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,  # the checkout's code; acme/ is elsewhere
            timeout=60,
        )
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr
    assert "cannot load tool 'acme.tools:" in out.stdout + out.stderr
    assert "No module named 'acme'" in out.stdout + out.stderr


def test_tools_md_plain_language_table_runs_as_written(desk: Desk) -> None:
    """Each row of TOOLS.md's "you write | it calls" table, sent as written: that tool,
    with those arguments (a T3 call's arguments are its proposal's preview)."""
    section = TOOLS_MD.read_text().split("## Try your tools without an API key", 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \| `(\w+) (\{[^`]*\})`", section, re.M)
    assert len(rows) >= 3, rows
    with desk.served.client() as api:
        r = api.post("/v1/sessions", json={"agent": "desk", "subject": "plain-words"})
        sid = r.json()["session_id"]
        for text, tool, args in rows:
            answer = turn(api, sid, text)
            assert [c["tool"] for c in answer["tool_calls"]] == [tool], (text, answer)
            assert '{"' not in answer["reply"] and '":' not in answer["reply"], answer["reply"]
            expected = ", ".join(f"{k}={v}" for k, v in json.loads(args).items())
            if answer["proposals"]:
                assert answer["proposals"][0]["preview"] == f"{tool}({expected})"
