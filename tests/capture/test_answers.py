"""Capture's answers about earlier runs: cached, never raising, opened beside the user's code."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from threadline.capture.answers import Answers, in_process
from threadline.capture.boundary import failures
from threadline.capture.emitter import Emitter, StoreSink, set_emitter
from threadline.capture.recorded import Key, StoreRecorded
from threadline.errors import CaptureError
from threadline.model.ids import NodeId
from threadline.model.serving import Serving
from threadline.store import open_store

RAW = NodeId("dataset", "file://h", "/raw.csv", "b3:" + "a" * 64)
MODEL = NodeId("model", "file://h", "/model.joblib", "b3:" + "b" * 64)


class Counting:
    """A transport that knows one produced dataset and one label, and counts the questions."""

    def __init__(self, *, fail: bool = False) -> None:
        self.asked: list[str] = []
        self.fail = fail
        self.closed = False

    def _ask(self, what: str) -> None:
        self.asked.append(what)
        if self.fail:
            raise CaptureError("the store went away")

    def prefetch(self, keys: Sequence[Key]) -> None:
        self.asked.append("prefetch")

    def produced(self, keys: Sequence[Key]) -> list[bool | None]:
        self._ask("produced")
        return [key == ("file://h", "/raw.csv") for key in keys]

    def labels(self, key: Key) -> frozenset[str]:
        self._ask("labels")
        return frozenset({"pii"})

    def serving(self, model: NodeId, at: datetime) -> list[Serving]:
        self._ask("serving")
        return [
            Serving(NodeId("deployment", "d", "e", "b3:" + "c" * 64), "2024-01-01T00:00:00+00:00")
        ]

    def close(self) -> None:
        self.closed = True


def test_answers_are_cached_per_dataset_whatever_the_version() -> None:
    transport = Counting()
    answers = Answers(transport)
    assert answers.produced(RAW) is True
    assert answers.produced(RAW.with_version(None)) is True
    assert answers.labels(RAW) == {"pii"}
    assert answers.labels(RAW) == {"pii"}
    answers.prefetch([RAW])  # already answered: not asked again
    assert transport.asked == ["produced", "labels"]
    assert len(answers.serving(MODEL, datetime.now(UTC))) == 1
    assert answers.serving(MODEL.with_version(None), datetime.now(UTC)) == []
    answers.close()
    assert transport.closed


def test_a_failing_transport_means_cannot_say_and_is_reported() -> None:
    failures.clear()
    answers = Answers(Counting(fail=True))
    assert answers.produced(RAW) is None
    assert answers.labels(RAW) == frozenset()
    assert answers.serving(MODEL, datetime.now(UTC)) == []
    assert failures["capture.recorded"] == 3
    failures.clear()


def test_the_transport_opens_once_in_the_background() -> None:
    opened: list[str] = []

    def opener() -> Counting:
        opened.append(threading.current_thread().name)
        return Counting()

    answers = Answers.opening(opener)
    answers.prefetch([RAW])  # not ready: nothing asked, nothing waited for
    answers.start()
    answers.start()
    assert answers.produced(RAW) is True
    assert opened == ["threadline-recorded"]
    assert Answers.opening(lambda: None).labels(RAW) == frozenset()


@pytest.fixture
def store_emitter(tmp_path: Path) -> Iterator[StoreSink]:
    sink = StoreSink(open_store(tmp_path / "lineage.db"))
    emitter = Emitter(sink)
    previous = set_emitter(emitter)
    try:
        yield sink
    finally:
        set_emitter(previous)
        emitter.close()


def test_in_process_answers_come_from_the_emitters_store(store_emitter: StoreSink) -> None:
    transport = in_process()
    assert isinstance(transport, StoreRecorded)
    assert transport.store is store_emitter.store
    assert transport.produced([("file://h", "/raw.csv")]) == [False]
    transport.close()  # shared with the emitter: left open
    assert store_emitter.store.counts()["events"] == 0
