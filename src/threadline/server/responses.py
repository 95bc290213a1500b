"""JSON responses rendered with orjson (the same serializer the store uses)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.responses import JSONResponse, Response


class JSON(JSONResponse):
    """``application/json`` rendered by orjson: fast, and exact for the store's numbers."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def raw_json(body: bytes, status_code: int = 200) -> Response:
    """Bytes that already are JSON (e.g. stored canonical event bodies), sent untouched."""
    return Response(body, status_code=status_code, media_type="application/json")


def iso(us: int | None) -> str | None:
    """Epoch microseconds as ``2026-01-01T00:00:00.000000Z`` (how Marquez prints instants)."""
    if us is None:
        return None
    seconds, micros = divmod(us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


__all__ = ["JSON", "iso", "raw_json"]
