"""The ``threadline run`` supervisor: it writes what the command's processes send and answers
their questions about what earlier runs recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from threadline.capture.api import RunRecorder
from threadline.capture.recorded import key_of
from threadline.capture.supervisor import Supervisor
from threadline.capture.supervisor_client import SocketSink, SupervisorRecorded
from threadline.model import facets as f
from threadline.model.events import event_to_dict
from threadline.model.ids import NodeId
from threadline.store import open_store


def test_supervisor_writes_batches_and_answers_produced(tmp_path: Path) -> None:
    db = tmp_path / "lineage.db"
    supervisor = Supervisor(str(db))
    supervisor.start()
    try:
        sink = SocketSink(supervisor.path)
        recorder = RunRecorder("producer")
        out = NodeId("dataset", "file://h", "/out.csv", "b3:" + "c" * 64)
        recorder.wrote(out, facets={"threadline_classification": f.classification(["pii"])})
        facets = recorder._run_facets()
        facets["threadline_execution"] = f.execution(*recorder.execution_id())
        sink.emit_batch(
            [event_to_dict(recorder._event("COMPLETE", facets, data=True))], durable=True
        )
        questions = SupervisorRecorded(supervisor.path)
        raw = NodeId("dataset", "file://h", "/raw.csv")
        questions.prefetch([key_of(out), key_of(raw)])
        # Answers come back in order: the prefetched ones are collected before this one.
        assert questions.labels(key_of(out)) == {"pii"}
        assert questions.produced([key_of(out)]) == [True]
        assert questions.produced([key_of(raw)]) == [False]
        assert questions.labels(key_of(raw)) == frozenset()
        assert questions.serving(out.with_version("b3:" + "d" * 64), datetime.now(UTC)) == []
        questions.close()
        assert questions.produced([("file://h", "/other.csv")]) == [None]  # closed: cannot say
        sink.close(1.0)
    finally:
        supervisor.close()
    store = open_store(db)
    try:
        assert store.counts()["runs"] == 1
    finally:
        store.close()


def test_a_supervisor_without_a_store_answers_cannot_say(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    supervisor = Supervisor(str(tmp_path / "not-a-folder" / "lineage.db"))
    supervisor.start()
    try:
        questions = SupervisorRecorded(supervisor.path)
        assert questions.produced([("file://h", "/raw.csv")]) == [None]
        assert questions.labels(("file://h", "/raw.csv")) == frozenset()
        questions.close()
    finally:
        supervisor.close()


def test_questions_to_a_supervisor_that_is_gone_cannot_be_answered(tmp_path: Path) -> None:
    questions = SupervisorRecorded(str(tmp_path / "gone.sock"))
    assert questions.produced([("file://h", "/raw.csv")]) == [None]
    assert questions.labels(("file://h", "/raw.csv")) == frozenset()
    assert (
        questions.serving(NodeId("model", "file://h", "/m", "b3:" + "e" * 64), datetime.now(UTC))
        == []
    )
