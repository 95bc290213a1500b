"""The web UI at ``/ui/``: the built front end (``web/``, built by ``make ui`` into
``server/webui/`` and shipped in the wheel), answered for every page URL.

Pages are client-side routes under ``/ui/`` (``/ui/node?id=…``, ``/ui/run/ID``,
``/ui/diff?a=…&b=…``, ``/ui/health``), so a pasted URL opens the same view: every path under
``/ui/`` but the assets answers the same page, which reads the URL.  ``/`` redirects to
``/ui/``.  The page holds no lineage: it asks the API, whose access rules and redaction apply
to each answer; so the page and its assets are public.  A server installed without the built
front end (a source checkout where ``make ui`` has not run) answers 503 naming the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from threadline.server.errors import error_response

UI_PATH: Final = "/ui"
ASSETS_PATH: Final = "/ui/assets"
#: Where ``make ui`` (vite) writes the build, inside the package.
BUILD: Final = Path(__file__).with_name("webui")

#: The page loads only its own script and stylesheet and talks only to this server.
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Assets are named by their content hash; the page itself must be fetched anew.
    "Cache-Control": "no-cache",
}


def built(folder: Path = BUILD) -> bool:
    return (folder / "index.html").is_file()


def install(app: FastAPI, folder: Path = BUILD) -> None:
    """Add ``/``, ``/ui/…`` and the assets to ``app``."""
    # check_dir=False: a server without the build still starts; the pages say what is missing.
    app.mount(ASSETS_PATH, StaticFiles(directory=folder / "assets", check_dir=False), "ui-assets")

    async def page(request: Request) -> Response:
        index = folder / "index.html"
        if not index.is_file():
            return error_response(
                503,
                {
                    "error": "ui_not_built",
                    "message": "the web UI is not built into this installation: run `make ui` "
                    "(needs Node.js and npm) in the source checkout, or install a wheel",
                },
            )
        return FileResponse(index, media_type="text/html", headers=_SECURITY_HEADERS)

    async def home() -> RedirectResponse:
        return RedirectResponse(f"{UI_PATH}/", status_code=307)

    app.add_api_route("/", home, methods=["GET"], include_in_schema=False)
    app.add_api_route(UI_PATH, page, methods=["GET"], include_in_schema=False)
    app.add_api_route(UI_PATH + "/{page:path}", page, methods=["GET"], include_in_schema=False)


__all__ = ["ASSETS_PATH", "BUILD", "UI_PATH", "built", "install"]
