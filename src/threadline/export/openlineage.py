"""The log as OpenLineage NDJSON, and OpenLineage NDJSON into a store.

Export writes the stored canonical bodies byte for byte, one per line, in log order, so an
export imported into an empty store rebuilds the same log (same digests) and so the same graph;
importing it again changes nothing (the store keeps one copy of each event).  Filters:
``namespace`` keeps events whose job or any dataset lives in it; ``since``/``until`` bound the
event time; ``ref`` keeps events that touch a node of that version's upstream trace.

Import reads NDJSON (or a file holding one JSON array), checks each event with ``check`` when
given (the server's schema validator, say), and appends ``batch`` events per transaction.  A
bad event stops the import with an error naming its line; the batches before it stay, and
re-running the import after fixing the file is safe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import orjson

from threadline.errors import InvalidEvent
from threadline.model.times import parse_moment
from threadline.query import trace
from threadline.store.base import Cursor

if TYPE_CHECKING:
    from threadline.store.base import Store

PAGE = 5000


def _touches(body: dict[str, Any]) -> Iterator[tuple[str, str]]:
    job = body.get("job")
    if isinstance(job, dict):
        yield str(job.get("namespace")), str(job.get("name"))
    for dataset in [body.get("dataset"), *body.get("inputs", []), *body.get("outputs", [])]:
        if isinstance(dataset, dict):
            yield str(dataset.get("namespace")), str(dataset.get("name"))


def export_events(
    store: Store,
    out: IO[bytes],
    *,
    namespace: str | None = None,
    since: dt.datetime | str | None = None,
    until: dt.datetime | str | None = None,
    ref: str | None = None,
) -> int:
    """Write the (filtered) log to ``out`` as NDJSON; returns how many events were written."""
    since_us, until_us = parse_moment(since, "--since"), parse_moment(until, "--until")
    nodes: set[tuple[str, str]] | None = None
    if ref is not None:
        graph = trace(store, ref, limit=None)
        nodes = {(n["namespace"], n["name"]) for n in graph.nodes}
    written = 0
    cursor = Cursor(0)
    while records := store.read_after(cursor, PAGE):
        cursor = Cursor(records[-1].seq)
        for record in records:
            if since_us is not None and record.event_time_us < since_us:
                continue
            if until_us is not None and record.event_time_us > until_us:
                continue
            if namespace is not None or nodes is not None:
                touched = set(_touches(orjson.loads(record.body)))
                if namespace is not None and all(ns != namespace for ns, _ in touched):
                    continue
                if nodes is not None and touched.isdisjoint(nodes):
                    continue
            out.write(record.body + b"\n")
            written += 1
    return written


@dataclass(frozen=True, slots=True)
class ImportResult:
    read: int
    appended: int
    duplicates: int

    def to_dict(self) -> dict[str, int]:
        return {"read": self.read, "appended": self.appended, "duplicates": self.duplicates}


def read_events(source: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """``(line number, event)`` from NDJSON, or from a file holding one JSON array."""
    first = source.read(1)
    while first and first.isspace():
        first = source.read(1)
    if first == b"[":
        items = orjson.loads(first + source.read())
        yield from enumerate(items, start=1)
        return
    rest = first + source.readline()
    number = 0
    while rest:
        number += 1
        if rest.strip():
            try:
                yield number, orjson.loads(rest)
            except orjson.JSONDecodeError as exc:
                raise InvalidEvent(
                    f"line {number} is not valid JSON: {exc}", detail={"line": number, "path": "$"}
                ) from exc
        rest = source.readline()


def import_events(
    store: Store,
    source: IO[bytes],
    *,
    batch: int = 1000,
    check: Callable[[Any], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Append every event of ``source``; ``progress`` gets the count of events done so far."""
    read = appended = duplicates = 0
    pending: list[dict[str, Any]] = []
    first_line = 0

    def flush() -> None:
        nonlocal appended, duplicates
        if not pending:
            return
        try:
            result = store.append_batch(pending)
        except InvalidEvent as exc:
            raise InvalidEvent(
                f"the batch starting at line {first_line}: {exc.message}", detail=exc.detail
            ) from exc
        appended += result.appended
        duplicates += result.duplicates
        pending.clear()
        if progress is not None:
            progress(read)

    for number, event in read_events(source):
        if check is not None:
            try:
                check(event)
            except InvalidEvent as exc:
                raise InvalidEvent(
                    f"line {number}: {exc.message}", detail={"line": number, **exc.detail}
                ) from exc
        if not pending:
            first_line = number
        pending.append(event)
        read += 1
        if len(pending) >= batch:
            flush()
    flush()
    return ImportResult(read, appended, duplicates)


__all__ = ["ImportResult", "export_events", "import_events", "read_events"]
