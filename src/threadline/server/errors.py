"""One error body for every failure the API reports.

::

    {"error": "invalid_event", "message": "…what went wrong and what to do…",
     "detail": {"path": "$.run.runId", …}}

:class:`~threadline.errors.ThreadlineError` maps through its own ``to_dict()`` and
``http_status``.  Request validation errors (a bad query parameter), unknown routes and
methods get the same shape with the codes ``usage``, ``not_found`` and ``method_not_allowed``.
Anything else is a bug: it is logged with its traceback and answered with a 500 that leaks
nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from threadline.errors import ThreadlineError, UsageError
from threadline.server.responses import JSON

log = logging.getLogger("threadline.server")

#: The JSON Schema of the error body, for the OpenAPI document.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "detail": {"type": "object"},
    },
}

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSON:
    return JSON(body, status_code=status, headers=headers)


async def _threadline_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, ThreadlineError)
    if exc.http_status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc.message)
    return error_response(exc.http_status, exc.to_dict())


async def _request_validation(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"path": ".".join(str(p) for p in error.get("loc", ())), "message": error.get("msg", "")}
        for error in exc.errors()
    ]
    first = problems[0] if problems else {"path": "", "message": "invalid request"}
    usage = UsageError(
        f"bad request parameter {first['path']}: {first['message']}",
        detail={"problems": problems},
    )
    return error_response(usage.http_status, usage.to_dict())


async def _http_error(request: Request, exc: Exception) -> JSON:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.detail else "request failed"
    if exc.status_code == 404:
        message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
    return JSON(
        {"error": code, "message": message}, status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected(request: Request, exc: Exception) -> JSON:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(
        500,
        {"error": "internal", "message": "internal server error; the server log has the details"},
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ThreadlineError, _threadline_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


__all__ = ["error_response", "install"]
