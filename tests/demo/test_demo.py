"""`make demo` end to end: the pipeline runs, questions are answered, re-runs add nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

DEMO = Path(__file__).resolve().parents[2] / "demo" / "run_demo.py"

pytest.importorskip("sklearn")
pytest.importorskip("pyarrow")


def test_demo_runs_answers_and_is_idempotent(tmp_path: Path) -> None:
    env = {**os.environ, "THREADLINE_STORE": str(tmp_path / "store" / "lineage.db")}
    first = subprocess.run(
        [sys.executable, str(DEMO)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "verified" in first.stdout
    assert "first run" in first.stdout

    trace = subprocess.run(
        [
            sys.executable,
            "-m",
            "threadline",
            "trace",
            "demo-output/predictions/batch.csv",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    graph = orjson.loads(trace.stdout)
    names = {Path(n["name"]).name for n in graph["nodes"]}
    assert {
        "patients.csv",
        "measurements.json",
        "joined.parquet",
        "train.parquet",
        "diagnosis-model.joblib",
    } <= names
    kinds = {n["kind"] for n in graph["nodes"]}
    assert {"predictions", "deployment", "model", "features", "dataset", "job"} <= kinds

    impact = subprocess.run(
        [sys.executable, "-m", "threadline", "impact", "demo-output/raw/patients.csv", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    downstream = {Path(n["name"]).name for n in orjson.loads(impact.stdout)["nodes"]}
    assert {"logreg.joblib", "forest.joblib", "diagnosis", "batch.csv"} <= downstream

    from threadline.store import open_store

    store = open_store(tmp_path / "store" / "lineage.db")
    before = store.counts()
    store.close()
    second = subprocess.run(
        [sys.executable, str(DEMO)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    store = open_store(tmp_path / "store" / "lineage.db")
    after = store.counts()
    store.close()
    assert {k: after[k] for k in ("nodes", "versions", "edges")} == {
        k: before[k] for k in ("nodes", "versions", "edges")
    }
    assert after["runs"] == 2 * before["runs"]
    assert "0 new versions, 0 new edges" in second.stdout.replace("\n", " ")
