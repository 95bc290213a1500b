"""``threadline trace preds.csv#row=17`` after real scripts ran under ``threadline run``.

A git repository holds the scripts: training runs on a clean tree, scoring on a dirty one, so
the code versions in the answer can be told apart.
"""

from __future__ import annotations

import getpass
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.support.live import start_server
from tests.support.runner import Project

from threadline.capture.api import memory_namespace
from threadline.capture.project import folder_namespace
from threadline.fingerprint import fingerprint_path
from threadline.model.ids import file_dataset


def _memory(project: Project) -> str:
    """Namespace of the in-memory datasets of a script run in the project's folder (no git
    repository and no settings file there: the folder names the project)."""
    return memory_namespace(folder_namespace(project.root))


TRAIN = """
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    df = pd.read_csv("raw.csv")
    model = LogisticRegression(C=0.5).fit(df[["a", "b"]], df["label"])
    joblib.dump(model, "model.joblib")
"""

SCORE = """
    import joblib
    import pandas as pd

    model = joblib.load("model.joblib")
    batch = pd.read_csv("batch.csv")
    out = pd.DataFrame({"prediction": model.predict(batch[["a", "b"]])})
    out.to_csv("preds.csv", index=False)
"""

#: The explicit API inside an automatically captured script: the scoring run reads the
#: deployment it serves from.
SCORE_EXPLICIT = """
    import joblib
    import pandas as pd
    import threadline

    deployment = threadline.deploy("model.joblib", endpoint="churn", environment="staging")
    with threadline.run("score-batch", stage="scoring", params={"batch": "b7"}) as r:
        r.read(deployment)
        model = joblib.load("model.joblib")
        batch = pd.read_csv("batch.csv")
        out = pd.DataFrame({"prediction": model.predict(batch[["a", "b"]])})
        out.to_csv("explicit.csv", index=False)
        r.wrote("explicit.csv", kind="predictions")
"""

BATCH_ROWS = 40

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def git(project: Project, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def threadline(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command line, as a user runs it in the project folder."""
    return subprocess.run(
        [sys.executable, "-m", "threadline", *args],
        cwd=project.root,
        env=project.env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def trace_json(project: Project, ref: str) -> dict[str, Any]:
    done = threadline(project, "trace", ref, "--json")
    assert done.returncode == 0, done.stderr
    body: dict[str, Any] = orjson.loads(done.stdout)
    return body


@pytest.fixture
def batch(project: Project) -> Any:
    """Training data, a scoring batch, the scripts committed to git; returns the batch frame."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    raw = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    raw["label"] = (raw["a"] + raw["b"] > 0).astype(int)
    raw.to_csv(project.root / "raw.csv", index=False)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=BATCH_ROWS),
            "b": rng.normal(size=BATCH_ROWS),
            "email": [f"user{i}@example.com" for i in range(BATCH_ROWS)],
        }
    )
    frame.to_csv(project.root / "batch.csv", index=False)
    project.write("train.py", TRAIN)
    project.write("score.py", SCORE)
    project.write("score_explicit.py", SCORE_EXPLICIT)
    git(project, "init", "-q")
    git(project, "add", "train.py", "score.py", "score_explicit.py")
    git(project, "commit", "-q", "-m", "pipeline")
    return frame


def test_one_prediction_traces_to_its_input_row_model_deployment_and_sources(
    project: Project, batch: Any
) -> None:
    import pandas as pd
    import sklearn

    project.python("train.py")
    deployed = threadline(project, "deploy", "model.joblib", "--endpoint", "churn")
    assert deployed.returncode == 0, deployed.stderr
    # Scoring runs on an uncommitted change.
    (project.root / "score.py").write_text((project.root / "score.py").read_text() + "# v2\n")
    project.python("score.py")

    body = trace_json(project, "preds.csv#row=17")
    row = body["row"]
    root = project.root
    preds = file_dataset(root / "preds.csv", "predictions").with_version(
        fingerprint_path(root / "preds.csv")
    )
    batch_id = file_dataset(root / "batch.csv").with_version(fingerprint_path(root / "batch.csv"))
    raw_id = file_dataset(root / "raw.csv").with_version(fingerprint_path(root / "raw.csv"))
    model_id = file_dataset(root / "model.joblib", "model").with_version(
        fingerprint_path(root / "model.joblib")
    )
    assert body["root"] == row["dataset"] == str(preds)
    assert (row["row"], row["rows"], row["columns"]) == (17, BATCH_ROWS, ["prediction"])
    predicted = pd.read_csv(root / "preds.csv")["prediction"][17]
    assert row["values"] == {"prediction": int(predicted)}
    # The exact input row: the values written are the values read back, bit for bit.
    assert row["input"] == {
        "dataset": str(batch_id),
        "row": 17,
        "values": {
            "a": float(batch["a"][17]),
            "b": float(batch["b"][17]),
            "email": "user17@example.com",
        },
    }
    chain = [ref["dataset"] for ref in row["chain"]]
    assert chain[0] == str(preds)
    assert chain[1].startswith(f"predictions:{_memory(project)}/score.py/predictions:")
    assert chain[2].startswith(f"features:{_memory(project)}/score.py/features@b3:")
    assert chain[3] == str(batch_id)
    assert row["features"] == [chain[2]]
    assert row["model"] == str(model_id)
    assert row["deployment"]["id"].startswith(
        f"deployment:{_memory(project)}/deployments/production/churn@b3:"
    )
    assert (row["deployment"]["endpoint"], row["deployment"]["environment"]) == (
        "churn",
        "production",
    )
    assert row["deployment"]["link"] in ("read", "model")
    assert str(raw_id) in row["training_data"]
    assert str(batch_id) not in row["training_data"]  # scored, not trained on
    assert set(row["raw_files"]) == {str(batch_id), str(raw_id)}

    nodes = {n["id"]: n for n in body["nodes"]}
    jobs = {n["name"]: n for n in body["nodes"] if n["kind"] == "job"}
    head = git(project, "rev-parse", "HEAD")
    predict = next(n for name, n in jobs.items() if name.startswith("score.py/predict:"))
    assert predict["code"]["commit"] == head
    assert predict["code"]["dirty"] is True
    assert predict["code"]["script"] == fingerprint_path(root / "score.py")
    fit = next(n for name, n in jobs.items() if name.startswith("train.py/fit:"))
    assert fit["code"]["commit"] == head
    assert fit["code"]["dirty"] is False
    assert fit["code"]["script"] == fingerprint_path(root / "train.py")
    assert fit["parameters"]["C"] == 0.5
    assert fit["stage"] == "training"
    for job in (predict, fit):
        assert (job["user"], job["host"]) == (getpass.getuser(), socket.gethostname())
        assert job["packages"]["scikit-learn"] == sklearn.__version__
        assert job["python"] == ".".join(map(str, sys.version_info[:3]))
    assert str(model_id) in nodes
    assert str(raw_id) in nodes

    # The same answer as a tree.
    done = threadline(project, "trace", "preds.csv#row=17")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    lines = out.splitlines()
    assert lines[0].startswith("◎ predictions preds.csv b3:")
    assert lines[0].endswith(f"row 17 of {BATCH_ROWS}")
    assert f"= prediction={int(predicted)}" in out
    assert "▤ dataset batch.csv" in out
    assert "◀ input row 17" in out
    assert "email=user17@example.com" in out
    assert "◆ model model.joblib" in out
    assert f"git:{head[:10]}+dirty" in out
    assert f"git:{head[:10]} " in out  # training ran on the clean tree
    assert "production/churn" in out
    assert "raw files: batch.csv" in out
    assert lines[-1].startswith("upstream: ")


def test_a_scoring_run_that_reads_its_deployment(project: Project, batch: Any) -> None:
    project.python("train.py")
    project.python("score_explicit.py")
    row = trace_json(project, "explicit.csv#row=3")["row"]
    assert row["input"]["dataset"].endswith(
        "/batch.csv@" + fingerprint_path(project.root / "batch.csv")
    )
    assert row["input"]["values"]["email"] == "user3@example.com"
    assert row["deployment"]["id"].startswith(
        f"deployment:{_memory(project)}/deployments/staging/churn@b3:"
    )
    assert row["deployment"]["link"] == "read"


def test_errors_exit_with_one_line(project: Project, batch: Any) -> None:
    project.python("train.py")
    project.python("score.py")
    past = threadline(project, "trace", f"preds.csv#row={BATCH_ROWS}")
    assert past.returncode == 3
    assert f"row {BATCH_ROWS} is past the end of" in past.stderr
    assert f"it has {BATCH_ROWS} data rows (rows 0 to {BATCH_ROWS - 1}" in past.stderr
    unmapped = threadline(project, "trace", "model.joblib#row=0")
    assert unmapped.returncode == 3
    assert "has no row mapping" in unmapped.stderr
    assert "threadline trace model.joblib gives the lineage" in unmapped.stderr
    malformed = threadline(project, "trace", "preds.csv#row=first")
    assert malformed.returncode == 2
    assert "expected ID#row=N" in malformed.stderr
    for done in (past, unmapped, malformed):
        assert done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1
    # A changed file: lineage still answers, values are withheld.
    (project.root / "batch.csv").write_text("a,b,email\n1,2,x\n")
    row = trace_json(project, "preds.csv#row=17")["row"]
    assert row["input"]["values_unavailable"] == "the file changed since it was recorded"


def test_the_api_answers_the_same_row_trace_without_reading_files(
    project: Project, batch: Any, tmp_path: Path
) -> None:
    project.python("train.py")
    project.python("score.py")
    cli = trace_json(project, "preds.csv#row=17")
    server = start_server(tmp_path, store=str(project.db))
    try:
        with server.client() as client:
            by_param = client.get("/api/v1/threadline/trace", params={"id": cli["root"], "row": 17})
            by_fragment = client.get(
                "/api/v1/threadline/trace", params={"id": f"{cli['root']}#row=17"}
            )
            past = client.get("/api/v1/threadline/trace", params={"id": cli["root"], "row": 99})
    finally:
        server.stop()
    assert by_param.status_code == 200, by_param.text
    assert by_fragment.json() == by_param.json()
    unread = {"values_unavailable": "row values are not read by this query"}

    def without_values(ref: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ref.items() if k not in ("values", "values_unavailable")}

    expected = dict(cli)
    expected["row"] = {
        **without_values(cli["row"]),
        **unread,
        "input": {**without_values(cli["row"]["input"]), **unread},
        "chain": [{**without_values(ref), **unread} for ref in cli["row"]["chain"]],
    }
    assert by_param.json() == expected
    assert past.status_code == 404
    assert "it has 40 data rows" in past.json()["message"]


def test_help_documents_rows(project: Project) -> None:
    done = threadline(project, "trace", "--help")
    assert done.returncode == 0
    assert "#row=N" in done.stdout
    assert "from 0" in done.stdout
