"""The ``threadline run`` supervisor: it writes what the command's processes send and answers
their questions about what earlier runs recorded."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.support.events import event
from tests.support.runner import read_graph

from threadline.capture import run_ends
from threadline.capture.api import RunRecorder
from threadline.capture.recorded import key_of
from threadline.capture.run_ends import RunEnds
from threadline.capture.supervisor import Supervisor
from threadline.capture.supervisor_client import SocketSink, SupervisorRecorded
from threadline.model import facets as f
from threadline.model.events import event_to_dict
from threadline.model.ids import NodeId
from threadline.store import open_store


def _record_pii_output(sink: SocketSink) -> NodeId:
    """Record, durably, a run that wrote a dataset labelled ``pii``; returns that dataset."""
    recorder = RunRecorder("producer")
    out = NodeId("dataset", "file://h", "/out.csv", "b3:" + "c" * 64)
    recorder.wrote(out, facets={"threadline_classification": f.classification(["pii"])})
    facets = recorder._run_facets()
    facets["threadline_execution"] = f.execution(*recorder.execution_id())
    sink.emit_batch([event_to_dict(recorder._event("COMPLETE", facets, data=True))], durable=True)
    return out


def test_supervisor_writes_batches_and_answers_produced(tmp_path: Path) -> None:
    db = tmp_path / "lineage.db"
    supervisor = Supervisor(str(db))
    supervisor.start()
    try:
        sink = SocketSink(supervisor.path)
        out = _record_pii_output(sink)
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


def test_a_prefetch_answers_both_questions_of_a_dataset_read(tmp_path: Path) -> None:
    # A script reads a file and fits on it later: whether the file was produced and which
    # labels it carries come back with the one question sent as it was read, so by the time
    # the labels are needed nothing is asked (the supervisor is gone by then here).
    supervisor = Supervisor(str(tmp_path / "lineage.db"))
    supervisor.start()
    try:
        sink = SocketSink(supervisor.path)
        out = _record_pii_output(sink)
        sink.close(1.0)
        questions = SupervisorRecorded(supervisor.path)
        raw = ("file://h", "/raw.csv")
        questions.prefetch([key_of(out), raw, key_of(out)])
        assert questions.produced([raw]) == [False]
    finally:
        supervisor.close()
    assert questions.labels(key_of(out)) == {"pii"}
    assert questions.produced([key_of(out)]) == [True]
    assert questions.labels(raw) == frozenset()
    assert questions.labels(("file://h", "/never-read.csv")) == frozenset()  # asked: no one
    questions.close()


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


def test_one_refused_event_costs_its_batch_nothing_else(tmp_path: Path) -> None:
    """61 events in one batch, one of them without a job name: the other 60 are stored."""
    db = tmp_path / "lineage.db"
    supervisor = Supervisor(str(db))
    supervisor.start()
    try:
        sink = SocketSink(supervisor.path)
        batch = [event(n) for n in range(61)]
        del batch[30]["job"]["name"]
        sink.emit_batch(batch, durable=False)
        sink.close(1.0)
    finally:
        # Counted here only when written here: not left to the writer agent.
        supervisor.close(wait=True)
    assert (supervisor.events, supervisor.failed_events) == (60, 1)
    with open_store(db) as store:
        assert store.counts()["events"] == 60


def test_a_command_killed_by_sigkill_leaves_no_run_open(tmp_path: Path) -> None:
    """The command reports START, then dies of SIGKILL: the supervisor records the FAIL."""
    (tmp_path / "raw.csv").write_text("a\n1\n")
    (tmp_path / "killed.py").write_text(
        textwrap.dedent(
            """
            import os, signal, time
            import threadline
            with threadline.run("killed-step") as step:
                step.read("raw.csv")
                threadline.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            """
        )
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "threadline",
            "--store",
            "lineage.db",
            "run",
            "--",
            sys.executable,
            "killed.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 128 + signal.SIGKILL, done.stderr
    graph = read_graph(tmp_path / "lineage.db", tmp_path)
    states = {graph.nodes[r.job_node_id].name.rsplit("/", 1)[-1]: r for r in graph.runs}
    assert {r.state for r in states.values()} == {"FAIL"}, states
    step = next(r for name, r in states.items() if name.endswith("killed-step"))
    assert "killed by SIGKILL" in step.facets
    assert step.ended_us is not None


def test_runs_left_open_at_a_clean_exit_are_aborted() -> None:
    ends = RunEnds(command_pid=None)
    opened = event(1, "START")
    ends.note([opened, event(2, "START"), event(2, "COMPLETE")])
    [end] = ends.ends(0)
    assert end["eventType"] == "ABORT"
    assert end["run"]["runId"] == opened["run"]["runId"]
    assert (
        "exited with status 0 before this run ended"
        in end["run"]["facets"]["errorMessage"]["message"]
    )
    assert ends.ends(0) == []  # ended once


def test_an_end_seen_before_its_start_does_not_reopen_the_run() -> None:
    ends = RunEnds(command_pid=None)
    ends.note([event(1, "COMPLETE")])
    ends.note([event(1, "START")])
    assert ends.ends(-9) == []


def test_run_ends_tell_the_runs_a_batch_is_the_first_news_of(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run_ends, "RUNS_REMEMBERED", 2)
    ends = RunEnds(command_pid=None)
    one, two, three = (event(n, "START")["run"]["runId"] for n in (1, 2, 3))
    assert ends.note([event(1, "START"), event(1, "COMPLETE"), event(2, "START")]) == [one, two]
    assert ends.note([event(2, "COMPLETE"), event(3, "START")]) == [three]
    assert (ends.seen(one), ends.seen(two), ends.seen(three)) == (False, True, True)


def test_when_the_supervisor_dies_the_command_writes_its_lineage_itself(tmp_path: Path) -> None:
    """kill -9 of ``threadline run`` itself mid-command: later outputs are still recorded."""
    (tmp_path / "outputs.py").write_text(
        textwrap.dedent(
            """
            import os, signal, time
            import threadline
            for n in range(40):
                if n == 20:
                    threadline.flush()
                    os.kill(os.getppid(), signal.SIGKILL)  # the supervisor
                    time.sleep(0.2)
                with threadline.run(f"step-{n}") as step:
                    with open(f"out-{n}.txt", "w") as handle:
                        handle.write(str(n))
                    step.wrote(f"out-{n}.txt")
            print("finished")
            """
        )
    )
    command = [sys.executable, "-m", "threadline", "--store", "lineage.db", "run", "--"]
    with (tmp_path / "output.log").open("w") as log:
        launched = subprocess.Popen(
            [*command, sys.executable, "outputs.py"], cwd=tmp_path, stdout=log, stderr=log
        )
        launched.wait(timeout=120)
    # The command outlives its supervisor; wait for its last output's lineage.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (tmp_path / "out-39.txt").exists():
        time.sleep(0.1)
    time.sleep(2.0)
    graph = read_graph(tmp_path / "lineage.db", tmp_path)
    steps = {graph.nodes[r.job_node_id].name.rsplit(".", 1)[-1] for r in graph.runs}
    assert {f"step-{n}" for n in range(40)} <= steps, (tmp_path / "output.log").read_text()
    assert not list(Path(tempfile.gettempdir()).glob(f"tl-{launched.pid}-*"))


def test_a_batch_message_is_read_as_strictly_as_the_writer_agent_reads_it() -> None:
    import pytest

    from threadline.capture.framing import frame_object

    assert frame_object(b'{"events": [{"text": "\\ud83d\\ude00 \xc3\xa9"}], "durable": false}') == {
        "events": [{"text": "\U0001f600 é"}],
        "durable": False,
    }
    for refused in (
        b'{"events": [{"text": "\\ud800"}]}',  # a lone surrogate
        b'{"events": [{"text": "\\uDC00x"}]}',
        b'{"events": [NaN]}',
        b'{"events": [-Infinity]}',
        b"[1, 2]",
        b"{not json",
    ):
        with pytest.raises(ValueError):  # noqa: PT011 - json's and orjson's messages differ
            frame_object(refused)
