"""``GET /docs``: Swagger UI over ``/openapi.json``, served from the package, never a CDN.

FastAPI's own ``/docs`` page loads Swagger UI's script and stylesheet from a CDN, so on a
machine without internet access (a common place for a lineage catalog) the page stays blank.
Here the same page points at copies served by this app under ``/docs/assets/``, taken from
the ``swagger-ui-bundle-v2`` distribution (Swagger UI's own build, installed by the
``server`` extra; nothing of it is kept in this repository).  ReDoc, which only has a CDN
build, is not offered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_PATH: Final = "/docs"
ASSETS_PATH: Final = "/docs/assets"
#: The files of Swagger UI's build that the page loads.
ASSETS: Final = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def assets_folder() -> Path:
    """Where the installed Swagger UI build is."""
    return Path(swagger_ui_bundle.swagger_ui_path)


def install(app: FastAPI) -> None:
    """Add ``/docs`` and its assets to ``app`` (built with ``docs_url=None``)."""
    folder = assets_folder()
    missing = [name for name in ASSETS if not (folder / name).is_file()]
    if missing:
        # A broken install would give a blank page again: say so when the app is built.
        raise RuntimeError(f"Swagger UI build at {folder} lacks {', '.join(missing)}")
    app.mount(ASSETS_PATH, StaticFiles(directory=folder), name="docs-assets")

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        )

    app.add_api_route(DOCS_PATH, docs, methods=["GET"], include_in_schema=False)


__all__ = ["ASSETS", "ASSETS_PATH", "DOCS_PATH", "assets_folder", "install"]
