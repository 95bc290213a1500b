"""Reading and reviewing an ingest body (one event, NDJSON or a JSON array) before it is
appended: inflating it as its Content-Encoding says (the one reading that both the handlers
and the access guard use, so that no event reaches the store unseen by the guard), parsing
it, and reviewing each event.

Apart from the endpoints (:mod:`threadline.server.openlineage`), so that the processes that
review large batches in parallel (:mod:`threadline.server.review_pool`) import what checking
needs and nothing of the web framework.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from threadline.errors import InvalidEvent, PayloadTooLarge, UsageError
from threadline.model.canonical_text import parse_canonical
from threadline.spec.ingest import IngestPolicy, refusal
from threadline.spec.validation import Problem
from threadline.store.prepared import PreparedEvent, prepare_batch_event

#: The Content-Encoding values of a body sent as it is.
_IDENTITY: Final = ("", "identity")
#: Those of a compressed body (gzip by its aliases, and zlib's deflate).
_INFLATABLE: Final = ("gzip", "x-gzip", "deflate")


def is_identity(encoding: str) -> bool:
    """Whether a body sent with Content-Encoding ``encoding`` is sent as it is."""
    return encoding.strip().lower() in _IDENTITY


def inflated(body: bytes, encoding: str, limit: int) -> bytes:
    """``body`` as sent with Content-Encoding ``encoding``, decompressed: what the handlers
    read, and so what the access guard must read too (:mod:`threadline.server.auth.guard`).
    :class:`~threadline.errors.UsageError` for an encoding not taken or data that is not
    valid; :class:`~threadline.errors.PayloadTooLarge` past ``limit`` bytes."""
    kind = encoding.strip().lower()
    if kind in _IDENTITY:
        return body
    if kind in _INFLATABLE:
        return _inflate(body, limit, gzip=kind != "deflate")
    raise UsageError(
        f"Content-Encoding {kind!r} is not supported; send the body plain or gzip-compressed"
    )


def _inflate(body: bytes, limit: int, *, gzip: bool) -> bytes:
    """``body`` inflated: every member of a gzip body (``gzip -c a b`` concatenates them),
    refused when it ends early, holds anything but members, or inflates past ``limit``."""
    kind = "gzip" if gzip else "deflate"
    parts: list[bytes] = []
    size = 0
    rest = body
    while True:
        inflater = zlib.decompressobj(wbits=31 if gzip else 15)
        try:
            part = inflater.decompress(rest, limit + 1 - size)
        except zlib.error as exc:
            raise UsageError(f"the body is not valid {kind} data: {exc}") from exc
        size += len(part)
        parts.append(part)
        if size > limit or inflater.unconsumed_tail:
            raise too_large(limit, decompressed=True)
        if not inflater.eof:
            # A body cut short would otherwise be taken for a shorter batch.
            raise UsageError(f"the {kind} body ends before its compressed data does (cut short?)")
        rest = inflater.unused_data
        if not rest.strip(b"\0"):  # gzip allows zero padding after the last member
            break
        if not gzip:
            raise UsageError("the deflate body holds data after its compressed stream")
    return parts[0] if len(parts) == 1 else b"".join(parts)


def too_large(limit: int, *, decompressed: bool = False) -> PayloadTooLarge:
    """The 413 of a body over ``limit`` bytes (``decompressed``: once inflated)."""
    what = "decompressed body" if decompressed else "body"
    return PayloadTooLarge(
        f"the {what} is larger than the server's limit of {limit:,} bytes; "
        "send fewer events per request or raise the limit (threadline serve --max-body)",
        detail={"limit": limit},
    )


def parse_event(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(
            f"the body is not valid JSON: {exc}", detail={"path": "$", "problems": []}
        ) from exc


@dataclass(slots=True)
class CheckedBatch:
    """A batch body every event of which the policy accepted."""

    count: int
    notes: list[dict[str, Any]]
    """The accepted events' notes, each with its event's ``index``."""
    events: list[PreparedEvent]
    """The events, prepared for the log as they were reviewed: all of them, or, of an NDJSON
    body of more than a chunk of events, the first chunk (the rest is read again, a chunk at
    a time, as it is appended: :func:`ndjson_chunks`)."""


def ndjson_lines(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """``(line number, text)`` of each non-blank line of an NDJSON body, one at a time
    (``\\n``, ``\\r\\n`` or ``\\r`` ends a line)."""
    number = start = 0
    size = len(raw)
    while start < size:
        end = raw.find(b"\n", start)
        if end < 0:
            end = size
        line = raw[start:end]
        start = end + 1
        for part in line.splitlines() if b"\r" in line else (line,):
            number += 1
            if part.strip():
                yield number, part


def _parse_line(line: bytes, index: int, number: int) -> tuple[Any, bytes | None]:
    """The event on an NDJSON line, and its canonical bytes if parsing gave them."""
    try:
        return parse_canonical(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(
            f"event #{index} of the batch (line {number}) is not valid JSON: {exc}",
            detail={"index": index, "line": number, "path": "$", "problems": []},
        ) from exc


def check_batch(
    policy: IngestPolicy, raw: bytes, content_type: str, *, max_events: int, keep: int
) -> CheckedBatch:
    """Parse and review every event of a batch body (a JSON array, or NDJSON: one event per
    non-blank line); raise for the first refused one, naming its index and path.

    NDJSON is read one line at a time and its events are kept only while there are at most
    ``keep`` of them: a large batch is never held parsed whole (a parsed event takes several
    times its text), it is parsed again a chunk at a time when it is appended.
    """
    first = opening(raw)
    if not first:
        raise UsageError("the batch is empty; send a JSON array or one event per line")
    if is_json_array(first, content_type):
        parsed = parse_event(raw)
        if not isinstance(parsed, list):  # pragma: no cover - a body starting with [ is a list
            raise InvalidEvent("a batch must be a JSON array", detail={"path": "$"})
        _count_within(len(parsed), max_events)
        notes: list[dict[str, Any]] = []
        prepared: list[PreparedEvent] = []
        for index, event in enumerate(parsed):
            _admit(policy, index, event, None, notes)
            prepared.append(_prepared(event, index))
        return CheckedBatch(len(parsed), notes, prepared)
    return check_ndjson(policy, raw, max_events=max_events, keep=keep)


def is_json_array(opening: bytes, content_type: str) -> bool:
    """Whether a batch body whose first byte past leading whitespace is ``opening`` (see
    :func:`opening`) is read as one JSON array rather than as NDJSON."""
    return opening[:1] == b"[" and "ndjson" not in content_type


_NOT_SPACE: Final = re.compile(rb"\S")


def opening(raw: bytes) -> bytes:
    """The first byte of ``raw`` past leading whitespace (what ``bytes.lstrip`` strips), or
    ``b""``; found without copying a body of many megabytes as ``lstrip`` would."""
    found = _NOT_SPACE.search(raw)
    return b"" if found is None else found.group()


def check_ndjson(policy: IngestPolicy, raw: bytes, *, max_events: int, keep: int) -> CheckedBatch:
    """:func:`check_batch` of NDJSON text, which may hold no event at all (a slice of a
    batch: :mod:`threadline.server.review_pool`); indexes count from its first event."""
    notes: list[dict[str, Any]] = []
    first: list[PreparedEvent] = []
    count = 0
    for number, line in ndjson_lines(raw):
        event, canonical = _parse_line(line, count, number)
        _count_within(count + 1, max_events)
        # An event's own text lets the validator skip its nesting walk (see ``problems``).
        _admit(policy, count, event, line, notes)
        if count < keep:
            # Prepared now, while the parsed event is fresh, and only the result kept.
            first.append(_prepared(event, count, canonical))
        count += 1
    return CheckedBatch(count, notes, first)


def _admit(
    policy: IngestPolicy,
    index: int,
    event: Any,
    text: bytes | None,
    notes: list[dict[str, Any]],
) -> None:
    """Add the notes of an accepted event to ``notes``; raise the 400 of a refused one."""
    verdict = policy.review(event, raw=text)
    if verdict.refused:
        where = f"event #{index} of the batch: "
        raise _indexed(refusal(verdict.refused, where, strict=policy.strict), index)
    notes.extend({"index": index, **note.to_dict()} for note in verdict.notes)


def _prepared(event: Any, index: int, canonical: bytes | None = None) -> PreparedEvent:
    """``event`` ready for the log, or the 400 naming it that the store would have given."""
    try:
        return prepare_batch_event(event, index, canonical)
    except InvalidEvent as exc:
        raise store_problem(exc, index) from exc


def ndjson_chunks(raw: bytes, size: int, *, skip: int = 0) -> Iterator[list[Any]]:
    """The events of an NDJSON body that :func:`check_batch` accepted, after the first
    ``skip`` (passed over unparsed), ``size`` at a time."""
    chunk: list[Any] = []
    for index, (_number, line) in enumerate(ndjson_lines(raw)):
        if index < skip:
            continue
        chunk.append(orjson.loads(line))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _count_within(count: int, limit: int) -> None:
    if count > limit:
        raise PayloadTooLarge(
            f"the batch holds more than {limit:,} events (the server's limit); split it "
            "or raise the limit (the max_batch_events setting)",
            detail={"limit": limit},
        )


def _indexed(error: InvalidEvent, index: int) -> InvalidEvent:
    error.detail = {"index": index, **error.detail}
    return error


def store_problem(error: InvalidEvent, index: int | None = None) -> InvalidEvent:
    """The store's own structural check failed after the schema passed: same error shape."""
    path = str(error.detail.get("path", "$"))
    detail: dict[str, Any] = {"path": path, "problems": [Problem(path, error.message).to_dict()]}
    if index is not None:
        detail = {"index": index, **detail}
    return InvalidEvent(error.message, detail=detail)


__all__ = [
    "CheckedBatch",
    "check_batch",
    "check_ndjson",
    "inflated",
    "is_identity",
    "is_json_array",
    "ndjson_chunks",
    "ndjson_lines",
    "opening",
    "parse_event",
    "store_problem",
    "too_large",
]
