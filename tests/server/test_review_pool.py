"""Large NDJSON batches reviewed in parallel processes (:mod:`threadline.server.review_pool`):
the verdict joined from a batch's slices is the one the server process would have given alone
(the same count and notes, the same events prepared, a refusal left to the server process to
name), real review processes give it, one killed with SIGKILL costs nothing but a review in
the server process, and a real server answers the same with and without them."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, Server

from threadline.capture.liveness import is_running
from threadline.errors import ThreadlineError
from threadline.server import review_pool
from threadline.server.batches import CheckedBatch, check_batch
from threadline.server.review_pool import (
    MIN_BODY,
    ReviewPool,
    Unreviewed,
    Verdict,
    default_processes,
    joined,
    slices,
)
from threadline.spec.ingest import IngestPolicy
from threadline.store.prepared import prepare_event

NDJSON = "application/x-ndjson"
POLICY = IngestPolicy()


def _event(index: int, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventType": "COMPLETE",
        "eventTime": f"2026-06-01T00:{index // 60 % 60:02d}:{index % 60:02d}Z",
        "run": {"runId": str(uuid.UUID(int=index + 1))},
        "job": {"namespace": "pool", "name": f"job-{index % 5}"},
        "inputs": [{"namespace": "pool", "name": f"table-{index % 7}"}],
        "outputs": [{"namespace": "pool", "name": f"table-{(index + 1) % 7}"}],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }
    event.update(changes)
    return {key: value for key, value in event.items() if value is not None}


def _refused(index: int) -> dict[str, Any]:
    return _event(index, eventTime=None)  # lineage cannot place it in time: a 400


def _noted(index: int) -> dict[str, Any]:
    return _event(index, producer=None)  # a deviation lineage survives: accepted with a note


def _in_process(raw: bytes, *, max_events: int, keep: int) -> CheckedBatch | None:
    try:
        return check_batch(POLICY, raw, NDJSON, max_events=max_events, keep=keep)
    except ThreadlineError:
        return None


def _sliced(
    raw: bytes, parts: int, *, max_events: int, keep: int, folder: Path
) -> CheckedBatch | None:
    """The pool's verdict with each slice reviewed here, as a review process reviews it
    (the body and the packed events pass through files, as between processes)."""
    body = folder / f"{uuid.uuid4().hex}.body"
    body.write_bytes(raw)
    verdicts: list[Verdict | None] = [
        review_pool._review_slice(str(body), part, max_events, str(body) + f"-{number}")
        for number, part in enumerate(slices(raw, parts, keep))
    ]
    return joined(verdicts, max_events)


@pytest.fixture
def reviewer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(review_pool, "_policy", POLICY)


# Mostly events that pass, so that most batches get a verdict to compare.
_KINDS = st.sampled_from(["valid"] * 6 + ["noted", "noted", "blank", "refused"])
_LINES = st.lists(st.tuples(_KINDS, st.integers(0, 10_000)), max_size=14)


def _body(lines: list[tuple[str, int]], endings: list[bytes]) -> tuple[bytes, list[Any]]:
    """NDJSON of ``lines``, the line ``i`` ended by ``endings[i % len(endings)]`` (the last
    line's ending may be ``b""``)."""
    out = bytearray()
    events: list[Any] = []
    for place, (kind, number) in enumerate(lines):
        if kind == "blank":
            out += b"  "
        else:
            event = {"valid": _event, "noted": _noted, "refused": _refused}[kind](number)
            events.append(event)
            out += orjson.dumps(event)
        out += endings[place % len(endings)]
    return bytes(out), events


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=_LINES,
    endings=st.lists(st.sampled_from([b"\n", b"\r\n", b"\r"]), min_size=1, max_size=4),
    final=st.booleans(),
    parts=st.integers(1, 5),
    keep=st.integers(0, 16),
    max_events=st.one_of(st.just(1_000), st.integers(1, 16)),
)
def test_a_batch_reviewed_in_slices_gets_the_verdict_it_gets_whole(
    reviewer: None,
    tmp_path: Path,
    lines: list[tuple[str, int]],
    endings: list[bytes],
    final: bool,
    parts: int,
    keep: int,
    max_events: int,
) -> None:
    raw, events = _body(lines, endings)
    if not final and lines:
        raw = raw[: -len(endings[(len(lines) - 1) % len(endings)])]
    whole = _in_process(raw, max_events=max_events, keep=keep)
    sliced = _sliced(raw, parts, max_events=max_events, keep=keep, folder=tmp_path)
    if whole is None:
        # A refusal, an empty batch or one over the limit: only the server process names it.
        assert sliced is None
        return
    assert sliced is not None
    assert sliced.count == whole.count
    assert sliced.notes == whole.notes
    # What comes back prepared is a prefix of the batch, at most a chunk of it; the whole
    # chunk unless blank lines or carriage returns made the slices' bound loose.
    prepared = [prepare_event(event) for event in events]
    assert sliced.events == prepared[: len(sliced.events)]
    assert len(sliced.events) <= keep
    if b"\r" not in raw and all(kind != "blank" for kind, _ in lines):
        assert sliced.events == whole.events
    assert list(tmp_path.glob("*-*")) == []  # every packed slice's file was read and removed


def test_slices_cut_at_line_ends_and_cover_the_body() -> None:
    raw = b"\n".join(orjson.dumps(_event(i)) for i in range(40))
    for parts in range(1, 8):
        cut = slices(raw, parts, keep=10)
        assert b"".join(raw[part.start : part.end] for part in cut) == raw
        assert all(raw[part.end - 1 : part.end] == b"\n" for part in cut[:-1])
        assert len(cut) <= parts
        assert cut[0].keep == 10


def test_processes_default_to_one_per_core_and_none_on_one_core() -> None:
    assert default_processes(1) == 0
    assert default_processes(2) == 2
    assert default_processes(64) == 4


# --- real review processes --------------------------------------------------------------------


def _large(count: int, *, pad: int = 2_000, bad: int | None = None) -> tuple[bytes, list[Any]]:
    events = [
        _refused(i)
        if i == bad
        else _event(
            i,
            run={
                "runId": str(uuid.uuid4()),
                "facets": {
                    "pad": {
                        "_producer": PRODUCER,
                        "_schemaURL": RUN_EVENT_SCHEMA,
                        "text": "x" * pad,
                    }
                },
            },
        )
        for i in range(count)
    ]
    return b"\n".join(orjson.dumps(e) for e in events) + b"\n", events


def _started(pool: ReviewPool) -> ReviewPool:
    pool.start()
    deadline = time.monotonic() + 60
    while not pool.ready:
        assert time.monotonic() < deadline, "the review processes did not start"
        time.sleep(0.05)
    return pool


@pytest.fixture(scope="module")
def pool() -> Iterator[ReviewPool]:
    started = _started(ReviewPool(2, strict=False))
    yield started
    started.close()


def test_real_processes_give_the_server_process_verdict(pool: ReviewPool) -> None:
    raw, events = _large(600)
    assert len(raw) >= MIN_BODY
    pooled = asyncio.run(pool.check(raw, max_events=10_000, keep=5_000))
    assert pooled is not None
    whole = check_batch(POLICY, raw, NDJSON, max_events=10_000, keep=5_000)
    assert (pooled.count, pooled.notes, pooled.events) == (whole.count, whole.notes, whole.events)
    # Over a chunk: the first chunk comes back prepared, the rest is read again on append.
    chunked = asyncio.run(pool.check(raw, max_events=10_000, keep=250))
    assert chunked is not None
    assert chunked.count == 600
    assert chunked.events == [prepare_event(e) for e in events[:250]]


def test_a_refused_event_in_any_slice_leaves_the_verdict_to_the_server(pool: ReviewPool) -> None:
    raw, _events = _large(600, bad=580)
    assert asyncio.run(pool.check(raw, max_events=10_000, keep=5_000)) is None
    raw, _events = _large(600)
    assert asyncio.run(pool.check(raw, max_events=599, keep=5_000)) is None  # over the limit
    assert os.listdir(pool._spool) == []  # nothing of either batch is left in the spool


def test_a_killed_process_costs_one_review_here_and_the_pool_is_replaced() -> None:
    pool = _started(ReviewPool(2, strict=False))
    try:
        raw, _events = _large(600)
        victim = pool.pids()[0]
        os.kill(victim, signal.SIGKILL)
        answers = []
        deadline = time.monotonic() + 60
        # Until the pool sees its process gone it may still answer; once it does, it gives
        # no verdict for that batch and starts again.
        while pool.replaced == 0:
            assert time.monotonic() < deadline, "the dead process was never noticed"
            answers.append(asyncio.run(pool.check(raw, max_events=10_000, keep=5_000)))
        assert answers[-1] is None
        _started(pool)
        assert victim not in pool.pids()
        again = asyncio.run(pool.check(raw, max_events=10_000, keep=5_000))
        assert again is not None
        assert again.count == 600
    finally:
        spool = pool._spool
        pool.close()
    assert not os.path.exists(spool)


def _drain(pool: ReviewPool) -> list[str]:
    """The spool's files once every slice under way has finished."""
    deadline = time.monotonic() + 30
    while (left := os.listdir(pool._spool)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_a_batch_of_at_most_a_chunk_is_handed_over_slice_by_slice(pool: ReviewPool) -> None:
    raw, events = _large(600)
    review = asyncio.run(pool.submit(raw, max_events=10_000, keep=5_000))
    assert review is not None
    assert review.whole
    chunks = list(review.chunks())
    assert len(chunks) > 1  # appended as the slices come in
    assert [e for chunk in chunks for e in chunk] == [prepare_event(e) for e in events]
    assert review.count == 600
    assert _drain(pool) == []
    # Over a chunk, the slices keep only a chunk's worth: the verdict is awaited whole.
    over = asyncio.run(pool.submit(raw, max_events=10_000, keep=300))
    assert over is not None
    assert over.whole is False
    over.abandon()  # what a request does with a review it gives up
    assert _drain(pool) == []


def test_a_refused_slice_stops_the_hand_over_and_leaves_nothing_behind(pool: ReviewPool) -> None:
    raw, _events = _large(600, bad=599)
    review = asyncio.run(pool.submit(raw, max_events=10_000, keep=5_000))
    assert review is not None
    chunks = review.chunks()
    assert next(chunks)  # earlier slices are handed over: the append they went into rolls back
    with pytest.raises(Unreviewed, match="refused"):
        list(chunks)
    review.abandon()
    assert _drain(pool) == []
    raw, _events = _large(600)
    review = asyncio.run(pool.submit(raw, max_events=500, keep=5_000))
    assert review is not None
    with pytest.raises(Unreviewed, match="limit"):
        list(review.chunks())
    review.abandon()
    assert _drain(pool) == []


def test_processes_that_stop_answering_are_killed_and_the_pool_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(review_pool, "SLICE_TIMEOUT", 1.0)
    pool = _started(ReviewPool(2, strict=False))
    try:
        stuck = pool.pids()
        for pid in stuck:
            os.kill(pid, signal.SIGSTOP)  # alive, but answering nothing
        raw, _events = _large(600)
        review = asyncio.run(pool.submit(raw, max_events=10_000, keep=5_000))
        assert review is not None
        started = time.monotonic()
        with pytest.raises(Unreviewed, match="failed"):
            list(review.chunks())
        assert time.monotonic() - started < 30
        review.abandon()
        assert pool.replaced == 1
        for pid in stuck:  # killed: gone once reaped, or a zombie until then
            deadline = time.monotonic() + 10
            while is_running(pid, None) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not is_running(pid, None)
        _started(pool)
        again = asyncio.run(pool.check(raw, max_events=10_000, keep=5_000))
        assert again is not None
        assert again.count == 600
    finally:
        pool.close()


def test_a_pool_closed_under_a_batch_gives_no_verdict_rather_than_cancelling_it() -> None:
    pool = _started(ReviewPool(2, strict=False))
    held = pool.pids()
    for pid in held:
        os.kill(pid, signal.SIGSTOP)  # the slices wait until the pool is closed under them
    try:
        raw, _events = _large(600)

        async def review_while_closing() -> CheckedBatch | None:
            review = await pool.submit(raw, max_events=10_000, keep=5_000)
            assert review is not None
            asyncio.get_running_loop().call_later(0.3, pool.close)
            return await review.verdict()

        assert asyncio.run(review_while_closing()) is None
    finally:
        pool.close()
        for pid in held:
            os.kill(pid, signal.SIGCONT)


def test_a_strict_pool_refuses_what_a_lenient_one_notes() -> None:
    events = [_noted(i) if i == 300 else _event(i) for i in range(600)]
    raw = b"\n".join(orjson.dumps(e) for e in events)
    strict = _started(ReviewPool(1, strict=True))
    try:
        assert asyncio.run(strict.check(raw, max_events=10_000, keep=5_000)) is None
    finally:
        strict.close()


# --- through a real server --------------------------------------------------------------------


@pytest.fixture
def server(server_factory: Callable[..., Server]) -> Server:
    return server_factory(env={"THREADLINE_REVIEW_PROCESSES": "2"})


def _pool_status(http: httpx.Client) -> dict[str, Any]:
    status: dict[str, Any] = http.get("/api/v1/health").json()["review_pool"]
    return status


def _ready(http: httpx.Client) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while not (status := _pool_status(http))["ready"]:
        assert time.monotonic() < deadline, "the server's review processes did not start"
        time.sleep(0.05)
    return status


def _stored_runs(http: httpx.Client) -> list[str]:
    page = http.get("/api/v1/events", params={"limit": 10_000}).json()
    return [entry["event"]["run"]["runId"] for entry in page["events"]]


def _post(http: httpx.Client, raw: bytes) -> httpx.Response:
    return http.post(
        "/api/v1/lineage/batch", content=raw, headers={"Content-Type": NDJSON}, timeout=60
    )


def test_a_server_answers_the_same_with_its_review_processes(server: Server) -> None:
    http = server.client()
    assert _pool_status(http)["ready"] is False  # nothing large yet: no processes
    first, first_events = _large(400)
    answer = _post(http, first)  # reviewed in the server process while the pool starts
    assert answer.status_code == 201, answer.text
    status = _ready(http)
    assert len(status["pids"]) == 2
    assert status["reviewed"] == 0
    bad, _ = _large(400, bad=371)
    refused = _post(http, bad)
    assert refused.status_code == 400
    assert refused.json()["detail"]["index"] == 371
    _, padded = _large(400)
    noted_events = [{**e, "producer": None} if i % 100 == 7 else e for i, e in enumerate(padded)]
    noted_events = [{k: v for k, v in e.items() if v is not None} for e in noted_events]
    noted = b"\n".join(orjson.dumps(e) for e in noted_events)
    assert len(noted) >= MIN_BODY
    answer = _post(http, noted)
    assert answer.status_code == 201, answer.text
    assert answer.json()["accepted"] == 400
    assert [n["index"] for n in answer.json()["threadline_validation"]] == [7, 107, 207, 307]
    again = _post(http, first)  # a resent batch is stored once
    assert again.status_code == 201
    # The refused batch was left to the server process; the other two had the pool's verdict.
    assert _pool_status(http)["reviewed"] == 2
    assert _stored_runs(http) == [e["run"]["runId"] for e in first_events + noted_events]


def test_a_review_process_killed_under_a_batch_loses_nothing(server: Server) -> None:
    http = server.client()
    warm, warm_events = _large(300)
    assert _post(http, warm).status_code == 201
    victim = _ready(http)["pids"][0]
    raw, events = _large(4_000)
    answers: list[httpx.Response] = []
    sender = threading.Thread(target=lambda: answers.append(_post(server.client(), raw)))
    sender.start()
    time.sleep(0.2)  # the batch is on its way or under review
    os.kill(victim, signal.SIGKILL)
    sender.join(timeout=120)
    assert len(answers) == 1
    assert answers[0].status_code == 201, answers[0].text
    assert answers[0].json()["accepted"] == 4_000
    assert _stored_runs(http) == [e["run"]["runId"] for e in warm_events + events]
    after, after_events = _large(300)
    answer = _post(http, after)
    assert answer.status_code == 201
    status = _ready(http)
    assert victim not in status["pids"]
    assert status["replaced"] == 1
    assert _stored_runs(http)[-300:] == [e["run"]["runId"] for e in after_events]


def test_no_review_processes_when_the_setting_is_zero(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(env={"THREADLINE_REVIEW_PROCESSES": "0"})
    http = server.client()
    raw, _ = _large(400)
    assert _post(http, raw).status_code == 201
    assert http.get("/api/v1/health").json()["review_pool"] is None


def test_a_batch_over_a_chunk_is_reviewed_in_the_pool_and_appended_in_chunks(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(
        env={"THREADLINE_REVIEW_PROCESSES": "2", "THREADLINE_BATCH_CHUNK_EVENTS": "150"}
    )
    http = server.client()
    warm, warm_events = _large(300)
    assert _post(http, warm).status_code == 201
    _ready(http)
    raw, events = _large(700)
    answer = _post(http, raw)
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"accepted": 700}
    assert _pool_status(http)["reviewed"] == 1  # over the chunk: the whole verdict awaited
    bad, _ = _large(700, bad=650)
    refused = _post(http, bad)
    assert refused.status_code == 400
    assert refused.json()["detail"]["index"] == 650
    assert _stored_runs(http) == [e["run"]["runId"] for e in warm_events + events]


def test_review_processes_end_with_a_server_killed_outright(server: Server) -> None:
    http = server.client()
    warm, _ = _large(300)
    assert _post(http, warm).status_code == 201
    pids = _ready(http)["pids"]
    assert pids
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    deadline = time.monotonic() + 20
    while any(is_running(pid, None) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(is_running(pid, None) for pid in pids)


def test_the_spool_goes_to_shared_memory_only_where_there_is_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(review_pool, "SPOOL_ROOM", 1 << 60)  # more than any machine has
    assert review_pool._spool_root() == tempfile.gettempdir()
    monkeypatch.setattr(review_pool, "SPOOL_ROOM", 0)
    expected = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    assert review_pool._spool_root() == expected


def test_a_spool_that_cannot_be_written_leaves_the_batch_to_the_server(pool: ReviewPool) -> None:
    raw, _events = _large(600)
    spool = pool._spool
    try:
        pool._spool = os.path.join(spool, "missing", "folder")  # as a spool gone full would
        assert asyncio.run(pool.submit(raw, max_events=10_000, keep=5_000)) is None
    finally:
        pool._spool = spool
    assert pool.replaced == 0  # the processes are fine: the next batch goes to them
    assert asyncio.run(pool.check(raw, max_events=10_000, keep=5_000)) is not None
