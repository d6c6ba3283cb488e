"""The web console: `GET /ui` (and `/`, which redirects there) and its static files.

The console is plain HTML, CSS and ES modules shipped inside the package
(`gateway/console/`, package data), so a non-editable install serves it with
no build step, no CDN and no network. The files are read once when the app is
built and served from that table by exact name: no request path ever reaches
the file system, so there is nothing to traverse.

Every response here carries a strict Content-Security-Policy (scripts, styles
and connections from this origin only, no inline code, no framing), plus
`nosniff` and `no-referrer`. The API key never travels to these routes: the
banner link puts it in the URL fragment, which browsers do not send.

`/ui/embed` is the customer-facing chat (docs/EMBED.md): it runs on a session
token (in its fragment) and may be framed by any site, since the site that
frames it is the one that minted the token; everything else stays unframeable.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from ..errors import error_response

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
INDEX = "index.html"
EMBED = "embed.html"
EMBED_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": CSP.replace("frame-ancestors 'none'", "frame-ancestors *"),
}


class Asset:
    __slots__ = ("body", "content_type", "etag")

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def load_assets() -> dict[str, Asset]:
    """Every servable file of `gateway/console`, by file name."""
    folder = resources.files("gateway") / "console"
    if not folder.is_dir():
        return {}
    assets: dict[str, Asset] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in CONTENT_TYPES:
            assets[entry.name] = Asset(entry.read_bytes(), CONTENT_TYPES[suffix])
    return assets


def serve_asset(
    asset: Asset | None, request: Request, security: dict[str, str] = SECURITY_HEADERS
) -> Response:
    if asset is None:
        return error_response(404, "no such console file", headers=SECURITY_HEADERS)
    headers = {**security, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


def build_router() -> APIRouter:
    assets = load_assets()
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def root() -> Response:
        return RedirectResponse("/ui", status_code=307, headers=SECURITY_HEADERS)

    @router.get("/ui")
    async def console(request: Request) -> Response:
        return serve_asset(assets.get(INDEX), request)

    @router.get("/ui/")
    async def console_slash() -> Response:
        return RedirectResponse("/ui", status_code=307, headers=SECURITY_HEADERS)

    @router.get("/ui/embed")
    async def embed(request: Request) -> Response:
        return serve_asset(assets.get(EMBED), request, EMBED_HEADERS)

    @router.get("/ui/{name:path}")
    async def console_file(name: str, request: Request) -> Response:
        return serve_asset(assets.get(name), request)

    return router
