"""The ``threadline run`` supervisor: it writes what the command's processes send and answers
their questions about what earlier runs recorded."""

from __future__ import annotations

from pathlib import Path

from threadline.capture.recorded import key_of
from threadline.capture.supervisor import Supervisor
from threadline.capture.supervisor_client import SocketSink, SupervisorRecorded
from threadline.model.ids import NodeId
from threadline.store import open_store


def test_supervisor_writes_batches_and_answers_produced(tmp_path: Path) -> None:
    from threadline.capture.api import RunRecorder

    db = tmp_path / "lineage.db"
    supervisor = Supervisor(str(db))
    supervisor.start()
    try:
        sink = SocketSink(supervisor.path)
        recorder = RunRecorder("producer")
        out = NodeId("dataset", "file://h", "/out.csv", "b3:" + "c" * 64)
        recorder.wrote(out)
        from threadline.model import facets as f
        from threadline.model.events import event_to_dict

        facets = recorder._run_facets()
        facets["threadline_execution"] = f.execution(*recorder.execution_id())
        sink.emit_batch(
            [event_to_dict(recorder._event("COMPLETE", facets, data=True))], durable=True
        )
        questions = SupervisorRecorded(supervisor.path)
        raw = NodeId("dataset", "file://h", "/raw.csv")
        questions.prefetch([key_of(out), key_of(raw)])
        assert questions.produced([key_of(out)]) == [True]
        assert questions.produced([key_of(raw)]) == [False]
        questions.close()
        sink.close(1.0)
    finally:
        supervisor.close()
    store = open_store(db)
    try:
        assert store.counts()["runs"] == 1
    finally:
        store.close()
