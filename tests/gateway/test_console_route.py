"""The web console's routes: /ui, its static files, their security headers, and
nothing else of the file system reachable through them."""

from __future__ import annotations

import fnmatch
import http.client
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from gateway.routes.ui import CSP
from runtime.proposals.model import Proposal, ProposalStatus
from runtime.tiers import Tier

from .conftest import LiveServer

CONSOLE = Path(__file__).resolve().parents[2] / "gateway" / "console"
STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_IMPORT = re.compile(r"""(?:import|from)\s+["'](\./[\w.-]+\.js)["']""")


def assert_secure(r: httpx.Response) -> None:
    assert r.headers["content-security-policy"] == STRICT_CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_ui_is_the_console_page_with_a_strict_csp(anon: httpx.Client) -> None:
    assert CSP == STRICT_CSP
    r = anon.get("/ui")  # no key needed: the page asks for one
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert_secure(r)
    page = r.text
    assert '<script type="module" src="/ui/app.js"></script>' in page
    # no inline code at all: every script has a src, no style blocks or attributes
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", page))
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", page) is None
    assert "<style" not in page and " style=" not in page
    assert re.search(r"\son[a-z]+=", page) is None  # no inline event handlers
    for label in ("Agent", "Subject", "Message", "API key"):
        assert f">{label}</label>" in page


def test_the_embed_page_may_be_framed_and_runs_no_inline_code(anon: httpx.Client) -> None:
    """/ui/embed is the customer chat: any site may frame it (the one that minted its
    token); its CSP is otherwise the console's. The console itself stays unframeable."""
    r = anon.get("/ui/embed")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-security-policy"] == STRICT_CSP.replace(
        "frame-ancestors 'none'", "frame-ancestors *"
    )
    assert '<script type="module" src="/ui/embed.js"></script>' in r.text
    assert "<style" not in r.text and " style=" not in r.text
    assert re.search(r"\son[a-z]+=", r.text) is None
    assert anon.get("/ui/embed.js").status_code == 200
    assert "frame-ancestors 'none'" in anon.get("/ui").headers["content-security-policy"]


def test_root_and_trailing_slash_redirect_to_ui(anon: httpx.Client) -> None:
    for path in ("/", "/ui/"):
        r = anon.get(path)
        assert r.status_code == 307, path
        assert r.headers["location"] == "/ui"
        assert_secure(r)
    followed = anon.get("/", follow_redirects=True)
    assert followed.status_code == 200 and str(followed.url).endswith("/ui")


def test_every_module_and_stylesheet_is_served_with_its_type(anon: httpx.Client) -> None:
    css = anon.get("/ui/app.css")
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert_secure(css)
    # app.js, embed.js and everything they import, transitively: a module left out of the
    # package (or misnamed) would break the page
    todo, served = ["app.js", "embed.js"], set()
    while todo:
        name = todo.pop()
        if name in served:
            continue
        r = anon.get(f"/ui/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == "text/javascript; charset=utf-8", name
        assert_secure(r)
        assert r.content == (CONSOLE / name).read_bytes()
        served.add(name)
        todo += [m.removeprefix("./") for m in _IMPORT.findall(r.text)]
    assert served == {p.name for p in CONSOLE.glob("*.js")}


def test_a_non_editable_install_carries_every_console_file() -> None:
    """pyproject's package-data globs cover each file the console serves."""
    pyproject = tomllib.loads((CONSOLE.parents[1] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["gateway"]
    files = [p.name for p in CONSOLE.iterdir()]
    assert {"index.html", "app.js", "app.css"} <= set(files)
    for name in files:
        assert any(fnmatch.fnmatch(f"console/{name}", g) for g in globs), name


def test_unchanged_files_answer_304(anon: httpx.Client) -> None:
    first = anon.get("/ui/app.js")
    etag = first.headers["etag"]
    again = anon.get("/ui/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert anon.get("/ui/app.js", headers={"If-None-Match": '"other"'}).status_code == 200


def test_console_scripts_never_parse_text_as_html() -> None:
    """Model and user text reach the page as text nodes only (dom.js)."""
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"setAttribute\(\s*[\"']on|\.on[a-z]+\s*="
    )
    for path in CONSOLE.glob("*.js"):
        assert sinks.search(path.read_text()) is None, path.name


TRAVERSALS = [
    "/ui/../pyproject.toml",
    "/ui/../../pyproject.toml",
    "/ui/%2e%2e/%2e%2e/pyproject.toml",
    "/ui/..%2f..%2fpyproject.toml",
    "/ui/..%2Fapp.py",
    "/ui/%2e%2e%5c%2e%2e%5cpyproject.toml",
    "/ui//etc/passwd",
    "/ui/%2Fetc%2Fpasswd",
    "/ui/./app.js/../../app.py",
    "/ui/console/app.js",
    "/ui/.",
    "/ui/__init__.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_is_refused(server: LiveServer, path: str) -> None:
    """Sent raw (no client-side normalisation of `..`), each is a 404 with no file in it."""
    url = urlparse(server.base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    assert r.status == 404, (path, r.status)
    for leak in (b"[project]", b"root:", b"import ", b"def "):
        assert leak not in body, path


_TIER_LITERAL = re.compile(r"""["'`]T\d["'`]""")
_STATUS_RANK = re.compile(r"\b(?:PENDING|CONFIRMED|REJECTED|EXPIRED|EXECUTED|FAILED)\s*:\s*\d")


_ROLE_RULE = re.compile(r"""role\s*[!=]==?\s*["'`](?:owner|staff|subject)["'`]""")
_HTTP_RULE = re.compile(r"status\s*[!=]==?\s*(?:429|503)\b")
_AWAITING_RULE = re.compile(r"awaiting\s*&&|!\s*[\w.?]*awaiting\b")
# Pieces of the approval line (`approval_text`) that a client would need the rule for.
_APPROVAL_WORDS = ("not the requester", "Who may approve", "approvals.", "more approvals")


def test_no_rule_of_the_server_is_copied_into_the_console() -> None:
    """The server says what a client needs (`hint`, `approval_text`, `final`,
    `can_approve`, `awaiting`, `/v1/me`'s `can`, an error's `retry_after`): no JS file
    decides by tier, ranks statuses, carries a hint text or approval wording of its own,
    lays itself out by a role's name, keeps a turn's `awaiting` against a later view, or
    knows which HTTP statuses may be retried."""
    hints = [Proposal(**body).hint() for body in _HINT_CASES]
    assert all(hints)
    for path in sorted(CONSOLE.glob("*.js")):
        code = path.read_text()
        assert _TIER_LITERAL.search(code) is None, path.name
        assert _STATUS_RANK.search(code) is None, path.name
        for hint in hints:
            assert hint not in code, (path.name, hint)
        assert _ROLE_RULE.search(code) is None, path.name
        assert _HTTP_RULE.search(code) is None, path.name
        assert _AWAITING_RULE.search(code) is None, path.name
        for words in _APPROVAL_WORDS:
            assert words not in code, (path.name, words)


_BASE: dict[str, Any] = {
    "proposal_id": "p",
    "tenant_id": "t",
    "session_id": "s",
    "agent": "a",
    "tool": "x",
    "created_at": 0.0,
}
_HINT_CASES: list[dict[str, Any]] = [
    _BASE | {"tier": Tier.T3},
    _BASE | {"tier": Tier.T2},
    _BASE | {"tier": Tier.T2, "awaiting": "clear_answer"},
    *(
        _BASE | {"tier": Tier.T2, "status": s, "error_kind": "tool_error"}
        for s in ProposalStatus
        if s is not ProposalStatus.PENDING
    ),
    _BASE | {"tier": Tier.T2, "status": ProposalStatus.FAILED, "error_kind": "outcome_unknown"},
]
