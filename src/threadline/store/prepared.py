"""An event made ready for the log: everything about it that needs no lock.

Preparing an event (its canonical bytes, the store's structural check, its BLAKE3 digest, its
time and indexed columns) is the per-event half of an append.  A store prepares what it is
given as plain events; a caller that already holds each event parsed (the server, reviewing a
batch one line at a time) prepares it there and then, while the parsed object is fresh in the
cache, and keeps only the result: a few hundred bytes beside the canonical body instead of
the parsed object, which takes several times its text and was walked again at the append.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import blake3

from threadline.errors import InvalidEvent
from threadline.model.canonical import canonical_json
from threadline.model.events import check_canonical
from threadline.store.projection import to_micros
from threadline.store.schema import event_columns


class PreparedEvent(NamedTuple):  # a tuple: made once per event on the acknowledgement path
    digest: bytes
    body: bytes
    time_us: int
    # event_kind, event_type, run_id, job_namespace, job_name: the indexed event columns
    columns: tuple[Any, ...]


def prepare_event(event: Any, canonical: bytes | None = None) -> PreparedEvent:
    """``event`` (a parsed JSON object) ready to append; :class:`~threadline.errors.InvalidEvent`
    for one the store refuses whatever the log holds.  ``canonical``: its canonical bytes when
    the parser gave them (:func:`~threadline.model.canonical_text.parse_canonical`)."""
    if not isinstance(event, dict):
        raise InvalidEvent("an event must be a JSON object", detail={"path": "$"})
    body = canonical_json(event) if canonical is None else canonical
    check_canonical(event, body)
    return PreparedEvent(
        blake3.blake3(body).digest(), body, to_micros(event["eventTime"]), event_columns(event)
    )


def prepare_batch_event(event: Any, index: int, canonical: bytes | None = None) -> PreparedEvent:
    """:func:`prepare_event` for the event at ``index`` of a batch: a refusal names it
    (``event #3 of the batch: …``, what the server reads back to answer with its index)."""
    try:
        return prepare_event(event, canonical)
    except InvalidEvent as exc:
        raise InvalidEvent(
            f"event #{index} of the batch: {exc.message}", detail=exc.detail
        ) from exc


__all__ = ["PreparedEvent", "prepare_batch_event", "prepare_event"]
