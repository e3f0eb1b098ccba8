"""The browser pages, built from libs/webclient by `make webclient` into gateway/static/
and served without a key (each page asks for what it needs itself):

- /app/: the web app: the landing page (log in, create a webinar, copy its viewer
  link), /app/host.html (go live) and /app/watch.html (a viewer link's page, which
  joins with the link's room ticket);
- /demo/: the SFU demo page, the analytics dashboard (/demo/dashboard.html) and the
  SDK bundles (/demo/webinar.js as an ES module, /demo/webinar.global.js for a
  plain `<script>` tag)."""

import re
from pathlib import Path

from aiohttp import web

from gateway.rest import Access, Call, Route
from webinar_contracts import NotFound

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
DEMO_DIR = STATIC_DIR / "demo"
APP_DIR = STATIC_DIR / "app"
# One file of a page folder: no separators, no leading dot (no braces: the route's path holds it).
_FILE_NAME = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
# Rebuilt by `make webclient`: revalidate instead of serving a stale bundle. The Referer
# goes to this origin only: the session reports read the page's host from it (a
# same-origin GET carries no Origin), and no other site learns a page's address.
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def page_file_path(name: str, root: Path, index: str) -> Path:
    """The file called `name` in the page folder `root`; NotFound when it is absent or
    not a plain file name, saying how to build the folder when it was never built."""
    if not re.fullmatch(_FILE_NAME, name):
        raise NotFound(f"no file {name!r}", field="file")
    path = root / name
    if not path.is_file():
        if not (root / index).is_file():
            raise NotFound("the browser pages are not built: run `make webclient` (or `make install`)")
        raise NotFound(f"no file {name!r}", field="file")
    return path


def demo_file_path(name: str, root: Path = DEMO_DIR) -> Path:
    return page_file_path(name, root, "demo.html")


def app_file_path(name: str, root: Path = APP_DIR) -> Path:
    return page_file_path(name, root, "index.html")


async def demo_page(call: Call) -> web.StreamResponse:
    return web.FileResponse(demo_file_path("demo.html"), headers=_HEADERS)


async def demo_file(call: Call) -> web.StreamResponse:
    return web.FileResponse(demo_file_path(call.param("file")), headers=_HEADERS)


async def app_page(call: Call) -> web.StreamResponse:
    return web.FileResponse(app_file_path("index.html"), headers=_HEADERS)


async def app_file(call: Call) -> web.StreamResponse:
    return web.FileResponse(app_file_path(call.param("file")), headers=_HEADERS)


async def root_page(call: Call) -> web.StreamResponse:
    raise web.HTTPFound("/app/")


ROUTES = [
    Route("GET", "/", root_page, "gateway", "Redirects to the web app (/app/)",
          access=Access.PUBLIC, responses={302: None}),
    Route("GET", "/app/", app_page, "gateway",
          "The web app (HTML): log in, create a webinar, open its host page, copy its viewer link",
          access=Access.PUBLIC, responses={200: None}, errors=(404,)),
    Route("GET", f"/app/{{file:{_FILE_NAME}}}", app_file, "gateway",
          "A file of the web app: host.html, watch.html (a viewer link's page), scripts, styles",
          access=Access.PUBLIC, responses={200: None}, errors=(404,)),
    Route("GET", "/demo/", demo_page, "gateway",
          "The SFU demo page (HTML): join a room with an API key, publish in one tab, watch in another",
          access=Access.PUBLIC, responses={200: None}, errors=(404,)),
    Route("GET", f"/demo/{{file:{_FILE_NAME}}}", demo_file, "gateway",
          "A file of the demo page: its script, the dashboard, the SDK bundles (webinar.js, webinar.global.js)",
          access=Access.PUBLIC, responses={200: None}, errors=(404,)),
]  # fmt: skip
