"""The demo page (publish in one tab, watch in another) and the analytics dashboard
(/demo/dashboard.html), built from libs/webclient by `make webclient` into
gateway/static/demo/ and served without a key: each page asks for the key itself and
sends it in the Socket.IO `auth` payload or the `x-api-key` header."""

import re
from pathlib import Path

from aiohttp import web

from gateway.rest import Access, Call, Route
from webinar_contracts import NotFound

DEMO_DIR = Path(__file__).resolve().parent.parent / "static" / "demo"
# One file of the demo folder: no separators, no leading dot (no braces: the route's path holds it).
_FILE_NAME = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
# Rebuilt by `make webclient`: revalidate instead of serving a stale bundle.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def demo_file_path(name: str, root: Path = DEMO_DIR) -> Path:
    """The demo file called `name`; NotFound when it is absent or not a plain file name."""
    if not re.fullmatch(_FILE_NAME, name):
        raise NotFound(f"no demo file {name!r}", field="file")
    path = root / name
    if not path.is_file():
        if not (root / "demo.html").is_file():
            raise NotFound("the demo page is not built: run `make webclient` (or `make install`)")
        raise NotFound(f"no demo file {name!r}", field="file")
    return path


async def demo_page(call: Call) -> web.StreamResponse:
    return web.FileResponse(demo_file_path("demo.html"), headers=_HEADERS)


async def demo_file(call: Call) -> web.StreamResponse:
    return web.FileResponse(demo_file_path(call.param("file")), headers=_HEADERS)


ROUTES = [
    Route("GET", "/demo/", demo_page, "gateway",
          "The SFU demo page (HTML): join a room with an API key, publish in one tab, watch in another",
          access=Access.PUBLIC, responses={200: None}, errors=(404,)),
    Route("GET", f"/demo/{{file:{_FILE_NAME}}}", demo_file, "gateway",
          "A file of the demo page (its script bundle)", access=Access.PUBLIC, responses={200: None}, errors=(404,)),
]  # fmt: skip
