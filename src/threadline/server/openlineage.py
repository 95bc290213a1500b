"""OpenLineage ingest (``POST /api/v1/lineage`` and ``/batch``) and the raw log (``GET /api/v1/events``).

``POST /api/v1/lineage`` takes one RunEvent, DatasetEvent or JobEvent exactly as the official
clients send it (``Content-Type: application/json``, optionally ``Content-Encoding: gzip``):

* ``201 {"accepted": 1}`` once the event is committed.  Resending an event is a no-op: the
  store keeps one copy of each canonical body, and the answer is the same 201.  An event that
  deviates from the OpenLineage schema in a way lineage survives (no ``schemaURL`` or
  ``producer``, a facet that breaks its own schema, a time without a zone) is stored as sent,
  and the answer lists the deviations: ``{"accepted": 1, "threadline_validation": [{"path":
  "$.schemaURL", "message": …}]}`` (the policy: :mod:`threadline.spec.ingest`);
* ``400`` when lineage cannot use the event (not JSON, no parseable ``eventTime``, no run id,
  job or dataset name, …), naming the JSON path (``detail.path``, e.g. ``$.run.runId``) and
  listing up to ten problems (``detail.problems``).  ``threadline serve --strict`` (the
  ``strict_ingest`` setting) answers 400 to every schema deviation instead;
* ``413`` when the body is over the limit (``--max-body``, 5 MiB by default), decompressed or not.

``POST /api/v1/lineage/batch`` takes many events as NDJSON (``application/x-ndjson``: one event
per line) or as a JSON array.  All of them are stored in one transaction or none is; the first
refused event is named by ``detail.index`` (0-based) and ``detail.path``.  The deviations of
accepted events are listed with their ``index``.

Nothing is half-stored on any failure: validation runs before the append, and the append is one
transaction.  Each accepted event is prepared for the log as it is reviewed (its canonical
bytes, the store's structural check, its digest: :mod:`threadline.store.prepared`) and only
that is kept, not the parsed event.  A large NDJSON batch is never held whole: a first pass
reads it line by line and reviews every event (preparing only the first
``batch_chunk_events``), and the append parses the rest again, a chunk at a time, inside that
one transaction; the server's memory then grows with the chunk, not with the batch.  A JSON array
is parsed whole (NDJSON is the form for large batches).  An NDJSON body from 512 KiB on is
reviewed in slices by the review processes, on every core (:mod:`threadline.server.review_pool`);
the answer is the same.

``GET /api/v1/events?after=<cursor>&limit=N`` pages through the log in order:
``{"events": [{"cursor": …, "recorded": …, "event": <stored body>}, …], "next": <cursor>}``.
``event`` is the canonical body exactly as stored (custom facets and all); an event that was
accepted with deviations also carries them, beside the body, as ``threadline_validation``.
Pass ``next`` back as ``after`` for the next page.  Cursors are opaque tokens.

``GET /api/v1/threadline/producers`` counts the stored events per ``producer``: how many, how
many carry notes, and which JSON paths the notes name most.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Final, NamedTuple

import anyio.to_thread
import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from threadline.collector import collections_held
from threadline.errors import InvalidEvent
from threadline.model.times import iso
from threadline.query.producers import ProducerTally
from threadline.server.batches import (
    CheckedBatch,
    check_batch,
    inflated,
    is_identity,
    is_json_array,
    ndjson_chunks,
    opening,
    parse_event,
    store_problem,
    too_large,
)
from threadline.server.errors import ERROR_SCHEMA
from threadline.server.memory import LARGE_BODY, limit_heaps, release_memory
from threadline.server.review_pool import MIN_BODY, Unreviewed
from threadline.server.writer import event_index
from threadline.spec.ingest import IngestPolicy, refusal
from threadline.spec.validation import Problem
from threadline.store.base import Cursor

if TYPE_CHECKING:
    from threadline.server.app import Runtime

router = APIRouter(tags=["OpenLineage"])
# The server process ingests here: fix its heaps before any worker thread allocates.
limit_heaps()

_ACCEPTED_ONE: Final = b'{"accepted":1}'
#: Compressed bodies from this size on are inflated in a worker thread (event batches
#: compress 10-40 times: 32 KiB may hold a MB).
_INFLATE_HERE: Final = 32 * 1024
_EVENT_DOC: Final = {
    "type": "object",
    "description": "An OpenLineage RunEvent, DatasetEvent or JobEvent (spec 2-0-2).  Refused "
    "only when lineage cannot use it (no eventTime, run id, job or dataset names); other "
    "deviations from the shipped schemas are accepted and listed in the answer "
    "(threadline serve --strict refuses them).",
    "required": ["eventTime"],
    "properties": {
        "eventTime": {"type": "string"},
        "producer": {"type": "string"},
        "schemaURL": {"type": "string"},
        "eventType": {
            "type": "string",
            "enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"],
        },
        "run": {"type": "object"},
        "job": {"type": "object"},
        "dataset": {"type": "object"},
        "inputs": {"type": "array", "items": {"type": "object"}},
        "outputs": {"type": "array", "items": {"type": "object"}},
    },
}
_ERROR_DOC: Final = {
    "description": "The canonical error body",
    "content": {"application/json": {"schema": ERROR_SCHEMA}},
}
_ACCEPTED_DOC: Final = {
    "description": "Stored (or already stored: resending is a no-op)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["accepted"],
                "properties": {
                    "accepted": {"type": "integer"},
                    "threadline_validation": {
                        "type": "array",
                        "description": "Deviations from the OpenLineage schema that were "
                        "accepted (with the event's index in a batch)",
                        "items": {
                            "type": "object",
                            "required": ["path", "message"],
                            "properties": {
                                "index": {"type": "integer"},
                                "path": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            }
        }
    },
}


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _policy(request: Request) -> IngestPolicy:
    return ingest_policy(request.app.state)


def ingest_policy(state: Any) -> IngestPolicy:
    """The app's ingest policy (``state``: the app's state), built once from its settings
    and compiled validator."""
    policy: IngestPolicy | None = getattr(state, "ingest_policy", None)
    if policy is None:
        runtime: Runtime = state.runtime
        policy = IngestPolicy(runtime.validator, strict=runtime.settings.strict_ingest)
        state.ingest_policy = policy
    return policy


# --- reading bodies ---------------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed, refusing more than ``limit`` bytes either way."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "")
    if len(body) < _INFLATE_HERE or is_identity(encoding):
        return inflated(body, encoding, limit)
    # zlib lets go of the GIL while it inflates: off the event loop, a large body no longer
    # holds up every other request (~1.5 ms a decompressed MB).
    return await anyio.to_thread.run_sync(inflated, body, encoding, limit)


# --- endpoints --------------------------------------------------------------------------------


@router.post(
    "/api/v1/lineage",
    status_code=201,
    summary="Record one OpenLineage event",
    responses={201: _ACCEPTED_DOC, 400: _ERROR_DOC, 413: _ERROR_DOC},
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _EVENT_DOC}}}
    },
)
async def post_lineage(request: Request) -> Response:
    """Review one RunEvent, DatasetEvent or JobEvent and store it (see the module docs)."""
    runtime = _runtime(request)
    policy = _policy(request)
    raw = await read_body(request, runtime.settings.max_body_bytes)
    event = parse_event(raw)
    verdict = policy.review(event, raw=raw)
    if verdict.refused:
        raise refusal(verdict.refused, strict=policy.strict)
    try:
        await runtime.writer.append([event])
    except InvalidEvent as exc:
        raise store_problem(exc) from exc
    return Response(accepted_one(verdict.notes), status_code=201, media_type="application/json")


def accepted_one(notes: Sequence[Problem]) -> bytes:
    """The body of the 201 to one event accepted with ``notes`` (its deviations)."""
    if not notes:
        return _ACCEPTED_ONE
    return orjson.dumps({"accepted": 1, "threadline_validation": [n.to_dict() for n in notes]})


@router.post(
    "/api/v1/lineage/batch",
    status_code=201,
    summary="Record many OpenLineage events, all or nothing",
    responses={201: _ACCEPTED_DOC, 400: _ERROR_DOC, 413: _ERROR_DOC},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": _EVENT_DOC}},
            },
        }
    },
)
async def post_lineage_batch(
    request: Request,
    durable: Annotated[
        bool, Query(description="Answer only once the batch is fsynced (SQLite stores)")
    ] = False,
) -> Response:
    """NDJSON or a JSON array of events; one transaction; 400 names the first bad event."""
    runtime = _runtime(request)
    settings = runtime.settings
    raw = await read_body(request, settings.max_batch_bytes)
    content_type = request.headers.get("content-type", "").lower()
    try:
        # A large batch's events stay alive until appended (prepared, or a chunk parsed
        # again): walking them is all a collection would do meanwhile (the hold ends once
        # they are dropped).
        with collections_held() if len(raw) >= LARGE_BODY else contextlib.nullcontext():
            try:
                outcome = await _review_in_pool(runtime, raw, content_type, durable)
                if not isinstance(outcome, _Appended):
                    checked = outcome or await _check(runtime, request, raw, content_type)
                    outcome = await _append_checked(runtime, checked, raw, durable)
            except InvalidEvent as exc:
                raise store_problem(exc, event_index(exc.message)) from exc
    finally:
        if len(raw) >= LARGE_BODY:
            del raw
            await anyio.to_thread.run_sync(release_memory)
    answer: dict[str, Any] = {"accepted": outcome.accepted}
    if outcome.notes:
        answer["threadline_validation"] = outcome.notes
    return Response(orjson.dumps(answer), status_code=201, media_type="application/json")


async def _check(runtime: Runtime, request: Request, raw: bytes, content_type: str) -> CheckedBatch:
    """The verdict on a batch body, from this process."""
    settings = runtime.settings
    return await anyio.to_thread.run_sync(
        functools.partial(
            check_batch,
            _policy(request),
            raw,
            content_type,
            max_events=settings.max_batch_events,
            keep=settings.batch_chunk_events,
        )
    )


class _Appended(NamedTuple):
    """A batch appended: how many events it held and the notes on them."""

    accepted: int
    notes: list[dict[str, Any]]


async def _append_checked(
    runtime: Runtime, checked: CheckedBatch, raw: bytes, durable: bool
) -> _Appended:
    """Append a batch reviewed whole: its prepared events, then, of a batch over a chunk,
    the rest of ``raw`` parsed again a chunk at a time, in the same transaction."""
    events, checked.events = checked.events, []
    try:
        if len(events) == checked.count:
            await runtime.writer.append(events, durable=durable)
        else:
            chunk = runtime.settings.batch_chunk_events
            rest = ndjson_chunks(raw, chunk, skip=len(events))
            await runtime.writer.append_chunks(itertools.chain([events], rest), durable=durable)
    finally:
        del events
    return _Appended(checked.count, checked.notes)


async def _review_in_pool(
    runtime: Runtime, raw: bytes, content_type: str, durable: bool
) -> _Appended | CheckedBatch | None:
    """A large NDJSON body reviewed by the review processes (:mod:`.review_pool`).  One of
    at most a chunk of events is appended slice by slice as their verdicts come in (the
    server appends the first while the last are reviewed); of a larger one the whole
    verdict is returned.  None when this process must review it: the pool is starting, an
    event is refused or a process failed (nothing of the batch is committed then)."""
    settings = runtime.settings
    pool = runtime.review_pool
    if pool is None or len(raw) < MIN_BODY or is_json_array(opening(raw), content_type):
        return None
    review = await pool.submit(
        raw, max_events=settings.max_batch_events, keep=settings.batch_chunk_events
    )
    if review is None:
        return None
    if not review.whole:
        return await review.verdict()
    try:
        await review.first()
        await runtime.writer.append_chunks(review.chunks(), durable=durable)
    except Unreviewed:
        review.abandon()
        return None
    except BaseException:
        review.abandon()
        raise
    return _Appended(review.count, review.notes)


@router.get("/api/v1/events", summary="Page through the raw event log")
def get_events(
    request: Request,
    after: Annotated[
        str | None, Query(description="Cursor to read after (the `next` of the previous page)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Events per page")] = 100,
) -> Response:
    """Stored events in log order, each with its cursor; ``event`` is the stored body, exact,
    ``threadline_validation`` lists its accepted deviations, if any, and ``archived: true``
    says the body was read back from an archive file (``threadline gc``'s archive rules)."""
    runtime = _runtime(request)
    notes_of = _policy(request).notes
    cursor = Cursor.decode(after) if after else Cursor(0)
    records = runtime.store.read_after(cursor, limit)
    parts: list[bytes] = []
    for record in records:
        recorded = orjson.dumps(iso(record.recorded_us))
        notes = notes_of(orjson.loads(record.body))
        annotation = (
            b',"threadline_validation":' + orjson.dumps([n.to_dict() for n in notes])
            if notes
            else b""
        )
        parts.append(
            b'{"cursor":"'
            + Cursor(record.seq).encode().encode()
            + b'","recorded":'
            + recorded
            + b',"event":'
            + record.body
            + annotation
            + (b',"archived":true' if record.archived else b"")
            + b"}"
        )
    next_token = Cursor(records[-1].seq if records else cursor.seq).encode()
    body = b'{"events":[' + b",".join(parts) + b'],"next":"' + next_token.encode() + b'"}'
    return Response(body, media_type="application/json")


@router.get(
    "/api/v1/threadline/producers",
    summary="Stored events and their accepted schema deviations, per producer",
)
def get_producers(request: Request) -> Response:
    """Per ``producer``: events stored, how many carry notes, and the JSON paths the notes
    name (indexes folded to ``[*]``), most frequent first."""
    runtime = _runtime(request)
    tally: ProducerTally | None = getattr(request.app.state, "producer_tally", None)
    if tally is None:
        tally = ProducerTally(_policy(request))
        request.app.state.producer_tally = tally
    return Response(
        orjson.dumps(tally.update(runtime.store).to_dict()), media_type="application/json"
    )


__all__ = ["accepted_one", "ingest_policy", "read_body", "router"]
