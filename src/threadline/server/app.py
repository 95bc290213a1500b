"""The FastAPI application: ``create_app(settings)``.

The lifespan opens the store, starts the group-commit writer (:mod:`.writer`) and the change
stream's poller (:mod:`.stream`), and closes them in reverse order.  Routes:

* OpenLineage ingest and the raw log: :mod:`.openlineage`;
* Marquez-compatible reads: :mod:`.marquez`;
* threadline's own lineage questions: :mod:`.lineage`;
* the change stream: ``GET /api/v1/stream`` (:mod:`.stream`);
* ``GET /api/v1/health``, ``/openapi.json`` and ``/docs``;
* the web UI at ``/ui/`` (``/`` redirects there): :mod:`.ui`.

Errors have one JSON shape (:mod:`.errors`).  ``threadline serve`` runs this app under uvicorn;
with ``--workers N`` each worker process builds its own app from the settings it finds in
the resolved settings its ``serve`` supervisor handed over (:func:`app_from_environ`,
:func:`threadline.config.handed_over`).
"""

from __future__ import annotations

import functools
import logging
import signal
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from types import FrameType
from typing import Annotated, Any

import anyio.to_thread
from fastapi import FastAPI, Header, Query, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from threadline._version import __version__
from threadline.collector import tune_gc_for_serving
from threadline.config import Settings, current, handed_over
from threadline.server import docs, errors, lineage, marquez, openlineage, ui
from threadline.server.auth.guard import AccessGuard
from threadline.server.checkpoints import router as checkpoints_router
from threadline.server.health import router as health_router
from threadline.server.notify import AppendListener
from threadline.server.publish import JetStreamPublisher
from threadline.server.responses import JSON
from threadline.server.review_pool import ReviewPool, default_processes
from threadline.server.single_event import SingleEventIngest
from threadline.server.stream import ChangeHub, StreamFilter, StreamGate
from threadline.server.writer import GroupWriter
from threadline.spec.validation import EventValidator
from threadline.store import open_store
from threadline.store.base import Cursor, Store
from threadline.store.postgres import PostgresStore

log = logging.getLogger("threadline.server")


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything a request handler needs, built by the lifespan."""

    settings: Settings
    store: Store
    validator: EventValidator
    writer: GroupWriter
    hub: ChangeHub
    gate: StreamGate
    review_pool: ReviewPool | None = None
    """Processes reviewing large batches (None: every batch is reviewed in this process)."""


class _EncodedSegments:
    """Keep ``%2F`` inside path segments under ``/api/v1/namespaces/`` as it was sent.

    Marquez clients percent-encode namespaces and names (``postgres%3A%2F%2Fdb%3A5432``);
    decoding before routing would split them at their slashes.  The router sees the raw path
    and the handlers decode each segment once.
    """

    def __init__(self, app: ASGIApp, prefix: str = "/api/v1/namespaces/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            raw = scope.get("raw_path")
            if raw:
                path = raw.decode("latin-1").split("?", 1)[0]
                if path.startswith(self.prefix):
                    scope = {**scope, "path": path}
        await self.app(scope, receive, send)


class _CountIngest:
    """Count the writing requests in flight, which catching-up change streams let go first
    (:class:`~threadline.server.stream.IngestFirst`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = getattr(scope["app"].state, "runtime", None) if "app" in scope else None
        if scope["type"] != "http" or scope["method"] != "POST" or runtime is None:
            await self.app(scope, receive, send)
            return
        runtime.hub.ingest.begin()
        try:
            await self.app(scope, receive, send)
        finally:
            runtime.hub.ingest.end()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The threadline API for ``settings`` (default: the resolved settings of this process;
    validators are compiled here, once)."""
    settings = settings or current()
    validator = EventValidator()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store: Store = await anyio.to_thread.run_sync(
            functools.partial(
                open_store,
                settings.store_url,
                cache_bytes=settings.store_cache_bytes,
                archive_dir=settings.archive_dir,
            )
        )
        hub = ChangeHub(
            store,
            poll_interval=settings.stream_poll_seconds,
            read_threads=settings.stream_read_threads,
        )
        writer = GroupWriter(
            store, max_events=settings.group_commit_events, on_commit=lambda _r: hub.poke()
        )
        gate = StreamGate(settings.stream_max_connections, settings.stream_max_per_client)
        writer.start()
        hub.start()
        listener = AppendListener(store, hub) if isinstance(store, PostgresStore) else None
        if listener is not None:
            listener.start()
        publisher = None
        if settings.publish:
            publisher = JetStreamPublisher(hub, settings.publish, settings.publish_subject)
            await publisher.start()
        processes = (
            settings.review_processes
            if settings.review_processes is not None
            else default_processes()
        )
        review_pool = ReviewPool(processes, strict=settings.strict_ingest) if processes else None
        app.state.runtime = Runtime(settings, store, validator, writer, hub, gate, review_pool)
        log.info("threadline server: store %s", getattr(store, "safe_url", store.url))
        try:
            with _streams_end_on_exit_signals(hub):
                yield
        finally:
            if review_pool is not None:
                review_pool.close()
            await writer.close()
            if publisher is not None:
                await publisher.close()
            if listener is not None:
                await listener.close()
            await hub.close()
            await anyio.to_thread.run_sync(store.close)

    app = FastAPI(
        title="threadline",
        version=__version__,
        summary="Automatic, verifiable ML lineage: OpenLineage ingest, Marquez-compatible reads.",
        lifespan=lifespan,
        default_response_class=JSON,
        # /docs is served from the package (:mod:`.docs`): FastAPI's pages load from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    docs.install(app)
    app.include_router(openlineage.router)
    app.include_router(marquez.router)
    app.include_router(lineage.router)
    app.include_router(checkpoints_router)
    app.include_router(health_router)
    app.add_api_route(
        "/api/v1/stream",
        stream,
        methods=["GET"],
        tags=["Stream"],
        summary="Server-Sent Events: every appended event",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
    )
    app.add_api_route("/api/v1/health", health, methods=["GET"], tags=["Server"])
    ui.install(app)
    # Innermost of the app's own: the access guard and the ingest counter see every request.
    app.add_middleware(SingleEventIngest)
    app.add_middleware(_EncodedSegments)
    app.add_middleware(_CountIngest)
    # Outermost: Host, Origin, content type, and with auth on, identity and rules (auth/).
    app.add_middleware(AccessGuard, settings=settings)
    _document_errors(app)
    return app


def _document_errors(app: FastAPI) -> None:
    """Describe the errors the API really answers with: FastAPI documents a 422 body for bad
    parameters, threadline answers 400 with its canonical error body (:mod:`.errors`)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        error = {
            "description": "Canonical error body",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ThreadlineError"}}
            },
        }
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                codes = ["400", "503"] if "{" not in path else ["400", "404", "503"]
                if path.startswith(("/api/v1/threadline/", "/api/v1/lineage")):
                    codes.append("404")
                for code in codes:
                    responses.setdefault(code, error)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["ThreadlineError"] = errors.ERROR_SCHEMA
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


@contextmanager
def _streams_end_on_exit_signals(hub: ChangeHub) -> Iterator[None]:
    """End the change streams as soon as SIGTERM or SIGINT arrives, then let the server's own
    handler (uvicorn's, installed before the app starts) begin its graceful shutdown: open
    streams never end by themselves and would hold the shutdown for its whole timeout.  Works
    in every worker process; outside the main thread (a test client) signals are not ours."""
    previous: dict[signal.Signals, Any] = {}

    def handler(sig: int, frame: FrameType | None) -> None:
        hub.end_streams()
        chained = previous.get(signal.Signals(sig))
        if callable(chained):
            chained(sig, frame)
        elif chained == signal.SIG_DFL:
            signal.default_int_handler(sig, frame)

    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for sig, chained in previous.items():
            with suppress(ValueError, TypeError):
                signal.signal(sig, chained)


class _GatedStream(StreamingResponse):
    """A change stream that gives its place back to the gate however it ends."""

    def __init__(self, gate: StreamGate, client: str, content: AsyncIterator[bytes]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.gate = gate
        self.client = client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.gate.release(self.client)


async def stream(
    request: Request,
    namespace: Annotated[
        list[str] | None, Query(description="Only events touching this namespace (repeatable)")
    ] = None,
    kind: Annotated[
        list[str] | None, Query(description="Only these event kinds: run, job, dataset")
    ] = None,
    after: Annotated[str | None, Query(description="Resume after this cursor")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """Every event appended from now on (or after a cursor) as ``text/event-stream``:
    ``id`` is the record's cursor, ``data`` its stored body.  Past the open-stream limits
    (in total, per client address) the answer is 503 with ``Retry-After``."""
    runtime: Runtime = request.app.state.runtime
    wanted = StreamFilter.parse(namespace or [], kind or [])
    token = last_event_id or after
    start = Cursor.decode(token).seq if token else None
    client = request.client.host if request.client else "unknown"
    refused = runtime.gate.admit(client)
    if refused:
        return errors.error_response(
            503,
            {"error": "too_many_streams", "message": f"{refused}; retry later"},
            headers={"Retry-After": str(runtime.gate.retry_after)},
        )
    return _GatedStream(runtime.gate, client, runtime.hub.subscribe(start, wanted))


async def health(request: Request) -> dict[str, Any]:
    """Liveness and the log's head cursor."""
    runtime: Runtime = request.app.state.runtime
    head = await runtime.hub.head()
    return {
        "status": "ok",
        "version": __version__,
        "store": getattr(runtime.store, "safe_url", runtime.store.url),
        "head": Cursor(head).encode(),
        "validator": "jsonschema_rs+jsonschema" if runtime.validator.accelerated else "jsonschema",
        "review_pool": None if runtime.review_pool is None else runtime.review_pool.status(),
    }


def app_from_environ(environ: Mapping[str, str] | None = None) -> FastAPI:
    """The app for a uvicorn worker process (``--factory``): the settings its ``serve``
    supervisor handed over (:func:`threadline.config.handed_over`)."""
    tune_gc_for_serving()
    return create_app(handed_over(environ))


__all__ = [
    "Runtime",
    "app_from_environ",
    "create_app",
]
