"""`make demo` end to end: the pipeline runs, questions are answered, re-runs add nothing.

The demo scripts are copied out of the repository before they run.  Execution ids include the
git commit and a digest of the uncommitted diff, so inside a working tree that someone is
editing, two runs a few seconds apart can rightly be different executions.  Outside a git
checkout the code identity is the script's own digest, which keeps the idempotency assertion
about the demo and nothing else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from threadline.store import open_store

pytest.importorskip("sklearn")
pytest.importorskip("pyarrow")

DEMO = Path(__file__).resolve().parents[2] / "demo"
GRAPH = ("nodes", "versions", "edges")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for script in ("pipeline.py", "run_demo.py"):
        (tmp_path / "demo").mkdir(exist_ok=True)
        shutil.copyfile(DEMO / script, tmp_path / "demo" / script)
    return tmp_path


def _env(workdir: Path) -> dict[str, str]:
    return {**os.environ, "THREADLINE_STORE": str(workdir / "store" / "lineage.db")}


def _run(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=workdir,
        env=_env(workdir),
        capture_output=True,
        text=True,
        check=False,
    )


def _query(workdir: Path, *args: str) -> Any:
    done = _run(workdir, "-m", "threadline", *args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return orjson.loads(done.stdout)


def _counts(workdir: Path) -> dict[str, int]:
    with open_store(workdir / "store" / "lineage.db") as store:
        return store.counts()


def _names(graph: Any) -> set[str]:
    return {Path(node["name"]).name for node in graph["nodes"]}


@pytest.mark.slow
def test_demo_runs_answers_and_is_idempotent(workdir: Path) -> None:
    first = _run(workdir, "demo/run_demo.py")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "new:" in first.stdout
    once = _counts(workdir)

    trace = _query(workdir, "trace", "demo-output/predictions/batch.csv")
    assert {
        "patients.csv",
        "measurements.json",
        "joined.parquet",
        "score.parquet",
        "train.parquet",
        "diagnosis-model.joblib",
    } <= _names(trace)
    assert {"predictions", "deployment", "model", "features", "dataset", "job"} <= {
        node["kind"] for node in trace["nodes"]
    }

    impact = _query(workdir, "impact", "demo-output/raw/patients.csv")
    downstream = {(node["kind"], Path(node["name"]).name) for node in impact["nodes"]}
    assert {
        ("model", "logreg.joblib"),
        ("model", "forest.joblib"),
        ("model", "diagnosis-model.joblib"),
        ("deployment", "diagnosis"),
        ("predictions", "batch.csv"),
    } <= downstream

    second = _run(workdir, "demo/run_demo.py")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "unchanged: 0 new versions, 0 new edges; 10 occurrences recorded" in second.stdout
    twice = _counts(workdir)
    assert {k: twice[k] for k in GRAPH} == {k: once[k] for k in GRAPH}
    assert twice["runs"] == 2 * once["runs"]

    report = _query(workdir, "verify")
    assert report["ok"] is True
    assert report["records"] == twice["events"]
