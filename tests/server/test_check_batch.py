"""A batch body is reviewed one event at a time and each accepted event prepared for the log
there and then (:func:`threadline.server.batches.check_batch`): what it keeps is what the
store would have made of the parsed events, and an event the store refuses is named by its
index, as the store names it."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.support.events import event

from threadline.errors import InvalidEvent
from threadline.server.batches import _prepared, check_batch, ndjson_chunks, opening
from threadline.spec.ingest import IngestPolicy
from threadline.store.prepared import PreparedEvent, prepare_event

EVENTS = [event(i) for i in range(1, 6)]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\n".join(orjson.dumps(e) for e in EVENTS) + b"\n", "application/x-ndjson"),
        (orjson.dumps(EVENTS), "application/json"),
    ],
    ids=["ndjson", "json array"],
)
def test_accepted_events_are_kept_prepared(body: bytes, content_type: str) -> None:
    checked = check_batch(IngestPolicy(), body, content_type, max_events=100, keep=100)
    assert checked.count == len(EVENTS)
    assert checked.events == [prepare_event(e) for e in EVENTS]
    assert all(type(item) is PreparedEvent for item in checked.events)


def _varied(n: int) -> dict[str, object]:
    """An event whose text the parser's shortcut to canonical bytes must get right or leave
    alone: floats, integers written as floats, non-ASCII and astral text, keys out of order
    (some only by UTF-16's order)."""
    base = event(n)
    extras: list[dict[str, object]] = [
        {"metrics": {"auc": 0.5, "loss": 3e-05, "rows": 1e3, "big": 1.5e300}},
        # U+FFFF sorts after U+1F600 by UTF-8 bytes, before it by UTF-16 code units (JCS).
        {"z": "ünïcode", "a": "\U0001f600", "\U0001f600": [1, {"é": None}], "\uffff": 2},
        {"count": 2**53 - 1, "negative": -0.0, "nested": [[[]]], "empty": {}},
        {},
    ]
    return {**base, "run": {**base["run"], "facets": {"custom": extras[n % len(extras)]}}}


@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_events_are_kept_as_the_store_would_canonicalize_them(ensure_ascii: bool) -> None:
    events = [_varied(n) for n in range(1, 9)]
    body = b"\n".join(
        json.dumps(e, ensure_ascii=ensure_ascii, indent=None).encode() for e in reversed(events)
    )
    checked = check_batch(IngestPolicy(), body, "application/x-ndjson", max_events=100, keep=100)
    parsed = [orjson.loads(line) for line in body.split(b"\n")]
    assert checked.events == [prepare_event(e) for e in parsed]


def test_an_ndjson_batch_over_a_chunk_keeps_its_first_chunk_prepared() -> None:
    body = b"\n".join(orjson.dumps(e) for e in EVENTS)
    checked = check_batch(IngestPolicy(), body, "application/x-ndjson", max_events=100, keep=2)
    assert checked.count == 5
    assert checked.events == [prepare_event(e) for e in EVENTS[:2]]
    # The rest is parsed again as it is appended, after the prepared ones.
    assert [e for chunk in ndjson_chunks(body, 2, skip=2) for e in chunk] == EVENTS[2:]
    assert [len(chunk) for chunk in ndjson_chunks(body, 2, skip=2)] == [2, 1]
    exact = check_batch(IngestPolicy(), body, "application/x-ndjson", max_events=100, keep=5)
    assert exact.events == [prepare_event(e) for e in EVENTS]


def test_an_event_the_store_refuses_is_named_by_its_index() -> None:
    bad = {**EVENTS[0], "eventType": "BOGUS"}
    with pytest.raises(InvalidEvent) as caught:
        _prepared(bad, 7)
    error = caught.value
    assert error.message.startswith("event #7 of the batch: eventType 'BOGUS'")
    assert error.detail["index"] == 7
    assert error.detail["path"] == "$.eventType"
    assert [p["path"] for p in error.detail["problems"]] == ["$.eventType"]


@given(st.binary(max_size=64))
def test_a_body_opens_where_lstrip_says_without_a_copy(raw: bytes) -> None:
    assert opening(raw) == raw.lstrip()[:1]
