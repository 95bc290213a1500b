"""JSON responses rendered with orjson (the same serializer the store uses)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JSON(JSONResponse):
    """``application/json`` rendered by orjson: fast, and exact for the store's numbers."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


__all__ = ["JSON"]
