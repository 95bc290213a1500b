"""`make demo` end to end: the stage scripts run under ``threadline run``, the captured graph is
the pipeline's true data flow, questions are answered, re-runs add nothing.

The demo is copied out of the repository before it runs.  Execution ids include the git commit
and a digest of the uncommitted diff, so inside a working tree that someone is editing, two
runs a few seconds apart can rightly be different executions.  Outside a git checkout the code
identity is the script's own digest, which keeps the idempotency assertion about the demo and
nothing else.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.support.runner import Graph, read_graph

from threadline.store import open_store

pytestmark = pytest.mark.slow

pytest.importorskip("sklearn")
pytest.importorskip("pyarrow")

DEMO = Path(__file__).resolve().parents[2] / "demo"
GRAPH = ("nodes", "versions", "edges")
OUT = "demo-output"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    shutil.copytree(DEMO, root / "demo", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    return {**env, "THREADLINE_STORE": str(workdir / "store" / "lineage.db")}


def _run(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=workdir,
        env=_env(workdir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _query(workdir: Path, *args: str) -> Any:
    done = _run(workdir, "-m", "threadline", *args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return orjson.loads(done.stdout)


def _counts(workdir: Path) -> dict[str, int]:
    with open_store(workdir / "store" / "lineage.db") as store:
        return store.counts()


@pytest.fixture(scope="module")
def first(workdir: Path) -> subprocess.CompletedProcess[str]:
    done = _run(workdir, "demo/run_demo.py")
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def graph(workdir: Path, first: subprocess.CompletedProcess[str]) -> Graph:
    return read_graph(workdir / "store" / "lineage.db", workdir / OUT)


def test_the_pipeline_scripts_hold_no_lineage_code() -> None:
    for script in sorted((DEMO / "pipeline").glob("*.py")):
        tree = ast.parse(script.read_text())
        imported = {
            alias.name.partition(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").partition(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        }
        assert "threadline" not in imported, script.name


def test_the_predictions_trace_to_exactly_their_true_upstream(graph: Graph) -> None:
    files = {
        n
        for n in graph.data_upstream("predictions:predictions/batch.csv")
        if not n.split(":", 1)[1].startswith("pipeline/")  # in-memory steps of the scripts
    }
    assert files == {
        "dataset:raw/patients.csv",
        "dataset:raw/measurements.json",
        "dataset:clean/joined.parquet",
        "features:features/train.parquet",
        "features:features/score.parquet",
        "model:models/logreg.joblib",
        "model:registry/diagnosis-model.joblib",
        "deployment:deployments/production/diagnosis",
    }
    # Nothing of the losing variant, and no evaluation report, is upstream of a prediction.
    assert not any("forest" in n or n.startswith("evaluation:") for n in files)


def test_each_run_has_its_stage(graph: Graph) -> None:
    assert {
        script: graph.stage(f"pipeline/{script}")
        for script in (
            "sources.py",
            "ingest.py",
            "features.py",
            "train.py",
            "evaluate.py",
            "register.py",
            "score.py",
        )
    } == {
        "sources.py": "ingestion",
        "ingest.py": "ingestion",
        "features.py": "features",
        "train.py": "training",
        "evaluate.py": "evaluation",
        "register.py": "registration",
        "score.py": "scoring",
    }
    assert graph.stage("deploy/production/diagnosis") == "deployment"
    assert graph.stage("pipeline/score.py/predict:Pipeline") == "scoring"
    assert "weekly batch" in graph.run("pipeline/score.py").facets


def test_scoring_reads_the_deployment_and_rows_map_to_the_scored_batch(graph: Graph) -> None:
    triples = graph.triples()
    deployment = "deployment:deployments/production/diagnosis"
    assert (deployment, "input", "job:pipeline/score.py/predict:Pipeline") in triples
    assert (deployment, "input", "job:pipeline/score.py") in triples
    assert (
        "model:registry/diagnosis-model.joblib",
        "input",
        "job:deploy/production/diagnosis",
    ) in triples
    window = graph.facets(deployment)["threadline_deployment"]
    assert (window["endpoint"], window["environment"]) == ("diagnosis", "production")
    rows = graph.facets("predictions:predictions/batch.csv")["threadline_rows"]
    score = graph.latest("features:features/score.parquet")
    registry = graph.latest("model:registry/diagnosis-model.joblib")
    assert rows["input"].endswith(f"/features/score.parquet@{score.version}")
    assert rows["model"].endswith(f"/registry/diagnosis-model.joblib@{registry.version}")
    assert rows["columns"] == ["probability", "prediction"]


def test_owners_and_pii_come_from_the_configuration(graph: Graph) -> None:
    def classification(label: str) -> tuple[list[str], list[str]]:
        body = graph.node_facets(label).get("threadline_classification") or {}
        return body.get("labels", []), body.get("inherited", [])

    def owners(label: str) -> list[str]:
        return [o["name"] for o in graph.node_facets(label)["ownership"]["owners"]]

    assert classification("dataset:raw/patients.csv") == (["pii"], [])
    assert classification("dataset:raw/measurements.json") == ([], [])
    for label in (
        "dataset:clean/joined.parquet",
        "features:features/train.parquet",
        "model:models/logreg.joblib",
        "model:registry/diagnosis-model.joblib",
        "predictions:predictions/batch.csv",
    ):
        assert classification(label) == ([], ["pii"]), label
    assert owners("dataset:raw/patients.csv") == ["team:data-platform"]
    assert owners("model:models/logreg.joblib") == ["team:clinical-ml"]


def test_the_questions_are_answered_and_a_rerun_is_idempotent(
    workdir: Path, first: subprocess.CompletedProcess[str]
) -> None:
    assert "new:" in first.stdout
    once = _counts(workdir)

    impact = _query(workdir, "impact", f"{OUT}/raw/patients.csv")
    downstream = {(node["kind"], Path(node["name"]).name) for node in impact["nodes"]}
    assert {
        ("model", "logreg.joblib"),
        ("model", "forest.joblib"),
        ("model", "diagnosis-model.joblib"),
        ("deployment", "diagnosis"),
        ("predictions", "batch.csv"),
    } <= downstream
    difference = _query(
        workdir, "diff", f"{OUT}/models/logreg.joblib", f"{OUT}/models/forest.joblib"
    )
    parameters = {change["key"]: (change["a"], change["b"]) for change in difference["parameters"]}
    assert parameters["model"] == ("LogisticRegression", "RandomForestClassifier")
    assert parameters["model__C"] == (0.5, None)
    assert {change["key"] for change in difference["metrics"]} >= {"roc_auc_score"}

    second = _run(workdir, "demo/run_demo.py")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "unchanged: 0 new versions, 0 new edges" in second.stdout
    twice = _counts(workdir)
    assert {k: twice[k] for k in GRAPH} == {k: once[k] for k in GRAPH}
    assert twice["runs"] == 2 * once["runs"]

    report = _query(workdir, "verify")
    assert report["ok"] is True
    assert report["records"] == twice["events"]
