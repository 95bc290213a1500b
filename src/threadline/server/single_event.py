"""``POST /api/v1/lineage`` answered beneath the router: the request every producer repeats.

The official OpenLineage clients post one event per request.  On that path a request went
through Starlette's exception layer, FastAPI's exit-stack layer, the router's match against
every route, a ``Request`` and a ``Response`` object: a fifth of its event loop's samples
under the single-event benchmark (py-spy), none of it needed to accept one.
:class:`SingleEventIngest`, the innermost of the app's own middlewares (the access guard and
the ingest counter have run), reads the body, reviews the event with the same policy, appends
it through the same group-commit writer and answers ``201`` with the route's own body.

Whatever is not that plain case is handed to the route exactly as it was sent, the body read
so far replayed: a refusal, a compressed body or one over the limit, an error from the store.
So every error keeps the route's shape and status (:mod:`.openlineage`), and the route stays
what OpenAPI documents.  (A refused event is reviewed twice; refusals are rare and cheap.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadline.server.openlineage import accepted_one, ingest_policy
from threadline.spec.ingest import IngestPolicy

if TYPE_CHECKING:
    from threadline.server.app import Runtime

PATH: Final = "/api/v1/lineage"
_IDENTITY: Final = (b"", b"identity")


class SingleEventIngest:
    """Serve the plain case of ``POST /api/v1/lineage``; hand the rest to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        runtime: Runtime | None = getattr(state, "runtime", None)
        if runtime is None or not _plain_body(scope, runtime.settings.max_body_bytes):
            await self.app(scope, receive, send)
            return
        messages, raw = await _read(receive, runtime.settings.max_body_bytes)
        answer = None if raw is None else await _accept(runtime, ingest_policy(state), raw)
        if answer is None:
            await self.app(scope, _replaying(messages, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-length", str(len(answer)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})


def _plain_body(scope: Scope, limit: int) -> bool:
    """Whether the headers announce a body this path reads itself: not compressed, and not
    declared over the limit."""
    for name, value in scope["headers"]:
        if name == b"content-encoding" and value.strip().lower() not in _IDENTITY:
            return False
        if name == b"content-length" and (not value.isdigit() or int(value) > limit):
            return False
    return True


async def _read(receive: Receive, limit: int) -> tuple[list[Message], bytes | None]:
    """The messages received, and the whole body; None when it runs over ``limit`` or the
    client goes away first (the route then answers as it always did)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return messages, None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


async def _accept(runtime: Runtime, policy: IngestPolicy, raw: bytes) -> bytes | None:
    """Store the event in ``raw`` and return the answer's body; None when the route should
    answer instead."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    verdict = policy.review(event, raw=raw)
    if verdict.refused:
        return None
    try:
        await runtime.writer.append([event])
    except Exception:  # the route appends again and answers with the error's own shape
        return None
    return accepted_one(verdict.notes)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` as the route sees it: the messages already read first, then the rest."""
    pending = list(messages)

    async def again() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return again


__all__ = ["PATH", "SingleEventIngest"]
