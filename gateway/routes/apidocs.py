"""`GET /docs`: Swagger UI over `/openapi.json`, offline.

The UI's files (Swagger UI 5, which reads OpenAPI 3.1) come from the
`fastapi-offline` package installed with the gateway (no CDN, so it works on a
closed network); the page and its start-up
script are ours (`gateway/apidocs/`), with no inline code, so they are served
under the console's Content-Security-Policy. The files are read once when the
app is built and served by exact name: no request path reaches the file system.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from .ui import CONTENT_TYPES, SECURITY_HEADERS, Asset, serve_asset

#: what the page loads from the package (only these are served)
BUNDLE = "fastapi_offline"
BUNDLE_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon.png")
INDEX = "index.html"


def load_assets() -> dict[str, Asset]:
    """The page and start-up script (ours), and the UI's files (the package's)."""
    assets: dict[str, Asset] = {}
    ours = resources.files("gateway") / "apidocs"
    for name in (INDEX, "init.js"):
        entry = ours / name
        assets[name] = Asset(entry.read_bytes(), CONTENT_TYPES["." + name.rpartition(".")[2]])
    bundle = resources.files(BUNDLE) / "static"
    for name in BUNDLE_FILES:
        body = (bundle / name).read_bytes()
        assets[name] = Asset(body, CONTENT_TYPES["." + name.rpartition(".")[2]])
    return assets


def build_router() -> APIRouter:
    assets = load_assets()
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def docs(request: Request) -> Response:
        return serve_asset(assets.get(INDEX), request)

    @router.get("/docs/")
    async def docs_slash() -> Response:
        return RedirectResponse("/docs", status_code=307, headers=SECURITY_HEADERS)

    @router.get("/docs/{name:path}")
    async def docs_file(name: str, request: Request) -> Response:
        return serve_asset(assets.get(name), request)

    return router
