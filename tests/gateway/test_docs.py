"""The repository's own docs stay true: docs/API.md's endpoint list is the app's
`/openapi.json` (both ways), every relative link of README.md and docs/*.md
resolves inside the repository (file and #anchor), and `/docs` is served from
the gateway itself under the console's CSP (the browser test is in
tests/e2e/test_docs.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.routes.ui import CSP

from .conftest import MAIN_SETTINGS, LiveServer

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "API.md"
DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_LINE = re.compile(rf"^({'|'.join(METHODS)})\s+(/\S*)$")
_MENTION = re.compile(rf"`({'|'.join(METHODS)}) (/[^`?\s]*)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    server = LiveServer(MAIN_SETTINGS).start()
    yield server
    server.stop()


def normal(path: str) -> str:
    """`/v1/sessions/{id}` and `/v1/sessions/{session_id}` are the same endpoint."""
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/") or "/")


def sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) of each `##` section (the text before the first: heading '')."""
    parts = re.split(r"^(## .*)$", text, flags=re.M)
    out = [("", parts[0])]
    out += [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]
    return out


def planned(body: str) -> bool:
    return re.search(r"^> \*\*Planned\*\*", body, re.M) is not None


def doc_endpoints() -> tuple[set[tuple[str, str]], set[tuple[str, str]], set[tuple[str, str]]]:
    """API.md's endpoint index (the `METHOD /path` lines of its "Endpoints" block),
    the endpoints it mentions in served sections, and those of planned sections."""
    text = API_MD.read_text()
    index: set[tuple[str, str]] = set()
    served: set[tuple[str, str]] = set()
    later: set[tuple[str, str]] = set()
    for heading, body in sections(text):
        found = {(m, normal(p)) for m, p in _MENTION.findall(body)}
        if heading == "## Endpoints":
            block = body.split("```")[1]
            for line in block.strip().splitlines():
                m = _LINE.match(line.strip())
                assert m, f"API.md, Endpoints: not a METHOD /path line: {line!r}"
                index.add((m.group(1), normal(m.group(2))))
        elif planned(body):
            later |= found
        else:
            served |= found
    return index, served, later


def openapi_endpoints(spec: dict[str, object]) -> set[tuple[str, str]]:
    paths = spec["paths"]
    assert isinstance(paths, dict)
    return {(m.upper(), normal(p)) for p, ops in paths.items() for m in ops if m.upper() in METHODS}


def test_api_md_lists_exactly_the_served_endpoints(live: LiveServer) -> None:
    spec = httpx.get(f"{live.base_url}/openapi.json").json()
    served_api = openapi_endpoints(spec)
    index, mentioned, later = doc_endpoints()
    assert len(index) >= 15
    assert index - served_api == set(), "API.md lists endpoints the gateway does not serve"
    assert served_api - index == set(), "the gateway serves endpoints API.md omits"
    assert served_api & later == set(), "API.md marks served endpoints as Planned"
    assert mentioned - index == set(), "API.md's text names endpoints its index lacks"


def test_the_drift_check_sees_both_directions() -> None:
    """The comparison itself: a line more, or an endpoint less, is a difference."""
    index, _, _ = doc_endpoints()
    assert ("GET", "/v1/sessions/{}/messages") in index
    assert ("POST", "/v1/proposals/{}/confirm") in index
    assert normal("/v1/sessions/{session_id}") == normal("/v1/sessions/{id}")
    spec = {"paths": {"/v1/new": {"get": {}}, "/healthz": {"get": {}, "parameters": []}}}
    assert openapi_endpoints(spec) == {("GET", "/v1/new"), ("GET", "/healthz")}


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(path: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
    return [a or b for a, b in _LINK.findall(text)]


def test_every_doc_link_resolves_inside_the_repository() -> None:
    checked = 0
    for doc in DOCS:
        for target in links(doc):
            if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
                continue
            where = f"{doc.relative_to(ROOT)} -> {target}"
            assert "shared/" not in target, where
            file_part, _, anchor = target.partition("#")
            dest = (doc.parent / file_part).resolve() if file_part else doc
            assert dest.is_relative_to(ROOT), f"{where}: outside the repository"
            assert dest.exists(), f"{where}: no such file"
            if anchor:
                assert anchor in anchors(dest), f"{where}: no such heading"
            checked += 1
    assert checked >= 10


def test_anchor_rules_match_githubs() -> None:
    sample = ROOT / "docs" / "API.md"
    found = anchors(sample)
    assert "configuration-orchestra-serve---config-file-toml-or-yaml" in found
    assert "principals-tokens-and-approvals" in found


def test_docs_page_is_served_offline_under_the_csp(live: LiveServer) -> None:
    with httpx.Client(base_url=live.base_url) as anon:
        page = anon.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CSP
        assert "text/html" in page.headers["content-type"]
        srcs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert srcs and all(s.startswith("/docs/") for s in srcs), srcs  # nothing remote
        for src in srcs:
            r = anon.get(src)
            assert r.status_code == 200, src
            assert r.headers["content-security-policy"] == CSP
        assert "SwaggerUIBundle" in anon.get("/docs/swagger-ui-bundle.js").text
        assert "/openapi.json" in anon.get("/docs/init.js").text
        assert anon.get("/docs/../pyproject.toml").status_code == 404
        assert anon.get("/docs/index.j2").status_code == 404  # only the files the page uses
        assert anon.get("/redoc").status_code == 404  # FastAPI's CDN page is off
