"""The explicit capture API against a real SQLite store."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

import threadline
from threadline.capture.emitter import Emitter, StoreSink, set_emitter
from threadline.errors import NotFound, UsageError
from threadline.integrity.chain import verify_chain
from threadline.model.ids import NodeId, file_dataset
from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.sql import SqlStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    opened = open_store(tmp_path / "lineage.db")
    emitter = Emitter(StoreSink(opened), batch_window=0.01)
    previous = set_emitter(emitter)
    try:
        yield opened
    finally:
        emitter.flush(10)
        set_emitter(previous)
        emitter.close()


def rows(store: SqlStore, table: sa.Table) -> list[Any]:
    return list(store.read(lambda conn: conn.execute(sa.select(table)).all()))


def graph_counts(store: SqlStore) -> dict[str, int]:
    counts = store.counts()
    return {key: counts[key] for key in ("nodes", "versions", "edges")}


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def clean_step(tmp_path: Path, reason: str | None = None) -> None:
    raw = tmp_path / "raw.csv"
    out = tmp_path / "clean.csv"
    with threadline.run("clean", stage="ingestion", params={"dropna": True}, reason=reason) as r:
        r.read(raw)
        out.write_text(raw.read_text().upper())
        r.wrote(out)


def test_run_records_inputs_outputs_and_context(store: SqlStore, tmp_path: Path) -> None:
    write(tmp_path / "raw.csv", "a,b\n1,2\n")
    clean_step(tmp_path, reason="first load")
    threadline.flush()
    (run,) = rows(store, s.runs)
    assert run.state == "COMPLETE"
    facets = orjson.loads(run.facets)
    assert facets["threadline_reason"]["reason"] == "first load"
    assert facets["threadline_parameters"]["parameters"] == {"dropna": True}
    context = facets["threadline_context"]
    assert context["host"]
    assert context["user"]
    assert context["pid"] == os.getpid()
    assert "packages" in context
    edges = rows(store, s.edges)
    assert sorted(e.relation for e in edges) == ["input", "output"]
    names = {n.name for n in rows(store, s.nodes)}
    assert str((tmp_path / "raw.csv").resolve()) in names
    assert "clean" in names


def test_rerunning_the_same_step_adds_no_versions_or_edges(store: SqlStore, tmp_path: Path) -> None:
    write(tmp_path / "raw.csv", "a,b\n1,2\n")
    clean_step(tmp_path)
    threadline.flush()
    before = graph_counts(store)
    clean_step(tmp_path)
    threadline.flush()
    assert graph_counts(store) == before
    runs = rows(store, s.runs)
    assert len(runs) == 2
    assert runs[0].execution_id == runs[1].execution_id  # two occurrences of one execution


def test_changed_input_makes_a_new_execution(store: SqlStore, tmp_path: Path) -> None:
    write(tmp_path / "raw.csv", "a,b\n1,2\n")
    clean_step(tmp_path)
    write(tmp_path / "raw.csv", "a,b\n1,3\n")
    clean_step(tmp_path)
    threadline.flush()
    runs = rows(store, s.runs)
    assert runs[0].execution_id != runs[1].execution_id
    versions = {v.version for v in rows(store, s.versions)}
    assert sum(v.startswith("ex:") for v in versions) == 2


def test_failure_is_recorded_and_the_exception_passes_through(store: SqlStore) -> None:
    with pytest.raises(ZeroDivisionError), threadline.run("boom"):
        _ = 1 / 0
    threadline.flush()
    (run,) = rows(store, s.runs)
    assert run.state == "FAIL"
    assert "ZeroDivisionError" in orjson.loads(run.facets)["errorMessage"]["message"]


def test_missing_path_and_unknown_kind_are_clear_errors(store: SqlStore, tmp_path: Path) -> None:
    with threadline.run("bad") as r:
        with pytest.raises(NotFound, match="no such file"):
            r.read(tmp_path / "missing.csv")
        with pytest.raises(UsageError, match="unknown artifact kind"):
            r.wrote(tmp_path, kind="spaceship")
        with pytest.raises(UsageError, match="cannot fingerprint"):
            r.read(object())
    with pytest.raises(UsageError, match="unknown stage"):
        threadline.run("x", stage="launch")


def test_step_infers_inputs_outputs_params_and_parent(store: SqlStore, tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")

    @threadline.step(stage="features")
    def scale(values: Any, factor: float) -> Any:
        return values * factor

    @threadline.step(stage="training")
    def pipeline(path: str) -> Any:
        data = np.loadtxt(path, delimiter=",")
        return scale(data, 2.0)

    source = write(tmp_path / "numbers.csv", "1,2\n3,4\n")
    pipeline(str(source))
    threadline.flush()
    runs = {
        orjson.loads(r.facets).get("parent", {}).get("run", {}).get("runId"): r
        for r in rows(store, s.runs)
    }
    outer = runs[None]
    inner = next(r for key, r in runs.items() if key is not None)
    assert orjson.loads(inner.facets)["parent"]["run"]["runId"] == outer.run_id
    assert orjson.loads(inner.facets)["threadline_parameters"]["parameters"] == {"factor": 2.0}
    kinds = {n.name: n.kind for n in rows(store, s.nodes)}
    assert kinds[str(source.resolve())] == "dataset"


def test_deploy_links_model_deployment_and_scoring(store: SqlStore, tmp_path: Path) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps({"weights": [0.5, 1.5]}))
    dep = threadline.deploy(model, endpoint="churn", environment="staging")
    again = threadline.deploy(model, endpoint="churn", environment="staging")
    assert dep == again
    with threadline.run("score", stage="scoring") as r:
        r.read(dep)
        preds = write(tmp_path / "preds.csv", "p\n1\n")
        r.wrote(preds, kind="predictions")
    threadline.flush()
    kinds = {n.kind for n in rows(store, s.nodes)}
    assert {"model", "deployment", "predictions"} <= kinds
    model_id = file_dataset(model, "model")
    assert isinstance(model_id, NodeId)
    assert verify_chain(store.iter_chain()).ok


def test_deploy_refuses_what_is_not_a_model(store: SqlStore, tmp_path: Path) -> None:
    raw = write(tmp_path / "raw.csv", "a,b\n1,2\n")
    with pytest.raises(UsageError, match=r"raw\.csv is not a saved model"):
        threadline.deploy(raw, endpoint="churn")
    with pytest.raises(UsageError, match=r"is not a model \(its kind is dataset\)"):
        threadline.deploy(str(file_dataset(raw)), endpoint="churn")
    with pytest.raises(UsageError, match=r"is not a model \(its kind is features\)"):
        threadline.deploy(NodeId("features", "threadline://p", "f", "b3:aa"), endpoint="churn")
    with pytest.raises(UsageError, match="type list: it is not a model"):
        threadline.deploy([1, 2], endpoint="churn")
    threadline.flush()
    assert store.counts()["runs"] == 0  # nothing was recorded
    # A model recorded in any format is deployed by its id.
    weights = write(tmp_path / "model.bin", "weights")
    with threadline.run("train") as r:
        model = r.wrote(weights, kind="model")
    deployment = threadline.deploy(str(model), endpoint="churn")
    assert deployment.kind == "deployment"


SIGKILL_SCRIPT = textwrap.dedent(
    """
    import sys, threadline
    from threadline.model.ids import NodeId
    i = 0
    while True:
        with threadline.run("spin", params={"i": i}) as r:
            r.read(NodeId("dataset", "file://h", "/in.csv", "b3:" + "a" * 64))
        i += 1
        if i == 200:
            print("ready", flush=True)
    """
)


def committed_events(db: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            return int(conn.execute("SELECT count(*) FROM tl_events").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_sigkill_leaves_a_clean_verifiable_store(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    env = {**os.environ, "THREADLINE_STORE": str(db)}
    with subprocess.Popen(
        [sys.executable, "-c", SIGKILL_SCRIPT], env=env, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        # Kill while the writer is busy, once a few batches have committed (bounded wait).
        deadline = time.monotonic() + 30
        while committed_events(db) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    store = open_store(db)
    try:
        report = verify_chain(store.iter_chain())
        assert report.ok, report.first_break
        assert report.records > 0
        # Each committed record is whole: every body parses as a complete event.
        for record in store.iter_chain():
            body = json.loads(record.body)
            assert body["run"]["runId"]
            assert body["eventType"] in {"START", "COMPLETE"}
    finally:
        store.close()


def test_sigterm_flushes_pending_events(tmp_path: Path) -> None:
    db = tmp_path / "term.db"
    script = textwrap.dedent(
        """
        import time, threadline
        with threadline.run("before-term") as r:
            pass
        print("ready", flush=True)
        time.sleep(30)
        """
    )
    env = {**os.environ, "THREADLINE_STORE": str(db), "THREADLINE_BATCH_WINDOW": "5"}
    with subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    assert proc.returncode == -signal.SIGTERM
    store = open_store(db)
    try:
        assert store.counts()["events"] == 2  # START and COMPLETE, despite the 5 s window
    finally:
        store.close()
