"""The emitter: batching, flush barriers, strict durability, back-pressure, failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from threadline.capture import boundary
from threadline.capture.emitter import Emitter, StoreSink
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.model.times import now_iso
from threadline.store import open_store


def event(i: int, run_id: str = "", event_type: str = "COMPLETE") -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": now_iso(),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run_id or f"00000000-0000-7000-8000-{i:012d}"},
        "job": {"namespace": "test", "name": f"job{i}"},
    }


class RecordingSink:
    kind = "memory"

    def __init__(self, *, fail_times: int = 0, gate: threading.Event | None = None) -> None:
        self.batches: list[tuple[list[dict[str, Any]], bool]] = []
        self.fail_times = fail_times
        self.gate = gate
        self.synced = 0

    def emit_batch(self, events: Sequence[dict[str, Any]], *, durable: bool) -> None:
        if self.gate is not None:
            self.gate.wait()
        if self.fail_times:
            self.fail_times -= 1
            raise OSError("disk full")
        self.batches.append((list(events), durable))

    def sync(self) -> None:
        self.synced += 1

    def close(self, timeout: float) -> bool:
        return True

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for batch, _ in self.batches for e in batch]


def test_flush_writes_everything_in_order() -> None:
    sink = RecordingSink()
    emitter = Emitter(sink, batch_size=7, batch_window=0.01)
    for i in range(50):
        emitter.emit(event(i))
    assert emitter.flush(5)
    assert [e["job"]["name"] for e in sink.events] == [f"job{i}" for i in range(50)]
    assert all(len(batch) <= 7 for batch, _ in sink.batches)
    assert emitter.close()


def test_strict_emit_waits_for_a_durable_write() -> None:
    sink = RecordingSink()
    emitter = Emitter(sink, batch_window=0.05)
    emitter.emit(event(1))
    emitter.emit(event(2), strict=True)
    # The strict event is already written, and written durably, when emit returns.
    assert [e["job"]["name"] for e in sink.events] == ["job1", "job2"]
    assert sink.batches[-1][1] is True
    emitter.close()


def test_durable_flush_of_already_written_events_syncs() -> None:
    sink = RecordingSink()
    emitter = Emitter(sink, batch_window=0.01)
    emitter.emit(event(1))
    assert emitter.flush(5)
    assert emitter.flush(5, durable=True)
    assert sink.synced == 1
    emitter.close()


def test_back_pressure_blocks_instead_of_dropping() -> None:
    gate = threading.Event()
    sink = RecordingSink(gate=gate)
    emitter = Emitter(sink, queue_size=10, batch_size=5, batch_window=0.01)
    done = threading.Event()

    def producer() -> None:
        for i in range(40):
            emitter.emit(event(i))
        done.set()

    thread = threading.Thread(target=producer)
    thread.start()
    # The sink is stalled: the producer must be held back once the queue is full.
    assert not done.wait(0.3)
    assert len(emitter._queue) <= 10 + 1
    gate.set()
    thread.join(5)
    assert done.is_set()
    assert emitter.flush(5)
    assert len(sink.events) == 40
    emitter.close()


def test_transient_failures_are_retried() -> None:
    sink = RecordingSink(fail_times=2)
    emitter = Emitter(sink, batch_window=0.01, retries=3)
    emitter.emit(event(1))
    assert emitter.flush(5)
    assert len(sink.events) == 1
    assert emitter.dropped == 0
    emitter.close()


def test_persistent_failure_is_reported_once_and_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = boundary.failure_count()
    sink = RecordingSink(fail_times=100)
    emitter = Emitter(sink, batch_window=0.01, retries=1)
    emitter.emit(event(1))
    assert emitter.flush(5) is False
    emitter.emit(event(2))
    assert emitter.flush(5) is False
    assert emitter.dropped == 2
    assert boundary.failure_count() == before + 2
    assert emitter.close() is False


def test_one_invalid_event_does_not_lose_its_batch(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    emitter = Emitter(StoreSink(store), batch_window=0.05)
    emitter.emit(event(1))
    emitter.emit({"eventTime": "not a time", "run": {"runId": "x"}, "job": {}})
    emitter.emit(event(3))
    emitter.flush(5)
    assert emitter.dropped == 1
    assert store.counts()["events"] == 2
    emitter.close()


def test_emit_after_close_is_an_error() -> None:
    emitter = Emitter(RecordingSink())
    emitter.close()
    from threadline.errors import CaptureError

    with pytest.raises(CaptureError):
        emitter.emit(event(1))


class _CountedEvent(threading.Event):
    """A threading.Event that counts the waits that returned."""

    def __init__(self) -> None:
        super().__init__()
        self.returns = 0

    def wait(self, timeout: float | None = None) -> bool:
        woke = super().wait(timeout)
        self.returns += 1
        return woke


def test_an_idle_emitter_sleeps_until_an_event_comes_and_writes_it_within_its_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A writer thread woken by a timer would take the interpreter from the captured program
    # several times a second for nothing.
    from threadline.capture import emitter as module

    monkeypatch.setattr(module.threading, "Event", _CountedEvent)
    sink = RecordingSink()
    emitter = Emitter(sink, batch_window=0.02)
    try:
        wake = emitter._wake
        assert isinstance(wake, _CountedEvent)
        time.sleep(0.5)  # idle for 25 windows
        assert wake.returns == 0
        emitter.emit(event(1))
        for _ in range(100):
            if sink.batches:
                break
            time.sleep(0.02)
        assert [len(batch) for batch, _ in sink.batches] == [1]
        assert wake.returns == 1
    finally:
        emitter.close()
