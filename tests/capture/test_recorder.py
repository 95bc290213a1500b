"""The recorder in process: scoring and evaluation through numpy hops, deployments, labels
recorded by another process, metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import orjson
import pandas as pd
import pytest
import sklearn.metrics
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tests.support.capture_session import Captured

import threadline
from threadline.capture.answers import Answers, in_process
from threadline.capture.hooks._patch import suspended
from threadline.capture.labels import Labels
from threadline.capture.parameters import estimator_parameters
from threadline.capture.recorder import Capture
from threadline.fingerprint import fingerprint_path
from threadline.store import schema as s

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _make_files(folder: Path, *, c: float = 1.0, model: str = "model.joblib") -> None:
    """Training data, a batch to score and a fitted model, made with the hooks off."""
    rng = np.random.default_rng(0)
    with suspended():
        frame = pd.DataFrame({"id": range(40), "a": rng.normal(size=40), "b": rng.normal(size=40)})
        frame["label"] = (frame["a"] > 0).astype(int)
        frame["email"] = [f"u{i}@example.com" for i in range(40)]
        frame.to_csv(folder / "train.csv", index=False)
        frame.drop(columns=["label", "email"]).head(10).to_csv(folder / "batch.csv", index=False)
        fitted = LogisticRegression(C=c).fit(frame[["a", "b"]], frame["label"])
        joblib.dump(fitted, folder / model)


def _facets(captured: Captured, name: str, *, node: bool = False) -> dict[str, Any]:
    """The newest version's facets (or the node's) of the node whose name ends with ``name``."""
    captured.finish()

    def query(conn: Any) -> Any:
        table = s.nodes if node else s.versions
        stmt = (
            sa.select(table.c.facets)
            .select_from(s.versions.join(s.nodes, s.nodes.c.id == s.versions.c.node_id))
            .where(s.nodes.c.name.endswith(name), s.nodes.c.type == "dataset")
            .order_by(s.versions.c.first_seq.desc())
        )
        return conn.execute(stmt).scalars().first()

    text = captured.store.read(query)
    assert text is not None, f"nothing recorded for {name}"
    out: dict[str, Any] = orjson.loads(text)
    return out


def test_predictions_through_numpy_keep_the_model_and_the_scored_rows(
    captured: Captured,
) -> None:
    _make_files(captured.folder)
    model = joblib.load("model.joblib")
    batch = pd.read_csv("batch.csv")
    probability = model.predict_proba(batch[["a", "b"]])[:, 1]
    # round() makes a new array no hook sees: the model must not fall out of the lineage.
    result = pd.DataFrame({"id": batch["id"], "probability": probability.round(3)})
    result["flag"] = (result["probability"] >= 0.5).astype(int)
    result.to_csv("scored.csv", index=False)

    upstream = captured.upstream("predictions:scored.csv")
    assert {"model:model.joblib", "dataset:batch.csv"} <= upstream
    assert "predictions:test/predictions:LogisticRegression" in upstream
    rows = _facets(captured, "/scored.csv")["threadline_rows"]
    assert rows["input"].endswith(f"/batch.csv@{fingerprint_path(captured.folder / 'batch.csv')}")
    assert rows["model"].endswith(
        f"/model.joblib@{fingerprint_path(captured.folder / 'model.joblib')}"
    )
    assert rows["columns"] == ["probability", "flag"]
    assert rows["rows"] == 10


def test_frame_operations_stay_precise_and_unknown_columns_widen_the_upstream(
    captured: Captured,
) -> None:
    _make_files(captured.folder)
    frame = pd.read_csv("batch.csv")
    train = pd.read_csv("train.csv").to_numpy()  # its values left the frames: a candidate
    with suspended():
        pd.DataFrame({"region": ["n", "s"]}).to_csv("report.csv", index=False)
    print(pd.read_csv("report.csv"))  # never left the frames: it cannot hide in unknown data
    derived = frame[frame["a"] * 2 > 0]
    assert not captured.capture.flow.partial(derived)  # pandas' own arrays are not unknown
    derived.to_csv("derived.csv", index=False)
    mixed = pd.DataFrame({"id": frame["id"], "noise": np.arange(10)})
    assert captured.capture.flow.partial(mixed)
    mixed.to_csv("mixed.csv", index=False)
    assert captured.upstream("dataset:derived.csv") == {"dataset:batch.csv"}
    # Part of it came from nowhere we saw: what it may hide is a candidate, nothing is missed.
    assert captured.upstream("dataset:mixed.csv") == {"dataset:batch.csv", "dataset:train.csv"}
    del train


def test_scoring_links_to_the_deployment_serving_the_model(captured: Captured) -> None:
    _make_files(captured.folder)
    threadline.deploy("model.joblib", endpoint="risk", environment="prod")
    captured.emitter.flush(10)
    model = joblib.load("model.joblib")
    predictions = model.predict(pd.read_csv("batch.csv")[["a", "b"]])
    pd.DataFrame({"p": predictions}).to_csv("out.csv", index=False)

    assert "deployment:deployments/prod/risk" in captured.upstream("predictions:out.csv")
    # The script's own run lists the deployment among what it read.
    assert any(node.kind == "deployment" for node in captured.root.inputs)


def test_a_model_replaced_at_its_endpoint_is_no_longer_served(captured: Captured) -> None:
    _make_files(captured.folder)
    _make_files(captured.folder, c=0.01, model="other.joblib")
    threadline.deploy("model.joblib", endpoint="risk", environment="prod")
    threadline.deploy("other.joblib", endpoint="risk", environment="prod")
    captured.emitter.flush(10)
    model = joblib.load("model.joblib")
    pd.DataFrame({"p": model.predict(pd.read_csv("batch.csv")[["a", "b"]])}).to_csv(
        "out.csv", index=False
    )
    assert not any(n.startswith("deployment:") for n in captured.upstream("predictions:out.csv"))


def test_labels_recorded_by_another_process_reach_what_is_made_from_the_file(
    captured: Captured,
) -> None:
    _make_files(captured.folder)
    captured.capture.labels = Labels.from_table(
        {"classify": [{"column": "email", "labels": ["pii"]}]}, root=captured.folder
    )
    pd.read_csv("train.csv").drop(columns=["email"]).to_csv("clean.csv", index=False)
    captured.finish()
    assert _facets(captured, "/clean.csv", node=True)["threadline_classification"] == {
        **_facets(captured, "/clean.csv", node=True)["threadline_classification"],
        "labels": [],
        "inherited": ["pii"],
    }

    # Another process knows nothing of train.csv: only the store can tell it clean.csv is pii.
    later = Capture(
        job="later",
        namespace="default",
        labels=Labels.from_table({}, root=captured.folder),
        answers=Answers.opening(in_process),
    )
    with suspended():
        clean = pd.read_csv("clean.csv")
        estimator = LogisticRegression().fit(clean[["a", "b"]], clean["label"])
    later.read(clean, "clean.csv", hook="test")
    later.fitted(estimator, clean[["a", "b"]], clean["label"], hook="test")
    later.finish()
    model = _facets(captured, "later/model:LogisticRegression", node=True)
    assert model["threadline_classification"]["inherited"] == ["pii"]


def test_metrics_of_one_model_on_one_batch_are_one_evaluation_of_that_model(
    captured: Captured,
) -> None:
    _make_files(captured.folder)
    model = joblib.load("model.joblib")
    check = pd.read_csv("train.csv")
    x = check[["a", "b"]]
    # Through the module, as a script importing it under capture would: the hooks patch it.
    score = sklearn.metrics
    metrics = {
        "accuracy": round(float(score.accuracy_score(check["label"], model.predict(x))), 4),
        "auc": round(float(score.roc_auc_score(check["label"], model.predict_proba(x)[:, 1])), 4),
    }
    pd.Series(metrics).to_json("metrics.json")

    edges = captured.edges()
    evaluations = {dst for _, rel, dst in edges if dst.startswith("evaluation:test/")}
    assert evaluations == {"evaluation:test/evaluation:LogisticRegression"}
    assert ("model:model.joblib", "input", "job:test/evaluate:LogisticRegression") in edges
    quality = _facets(captured, "test/evaluation:LogisticRegression")["threadline_quality"]
    assert set(quality["metrics"]) == {"accuracy_score", "roc_auc_score"}
    # The report of plain numbers is recognised as the evaluation it reports.
    assert "evaluation:test/evaluation:LogisticRegression" in captured.upstream(
        "evaluation:metrics.json"
    )


def test_model_parameters_reach_the_model_file_with_the_chosen_ones_marked(
    captured: Captured,
) -> None:
    pipe = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=0.5))])
    assert estimator_parameters(pipe).explicit == {"steps", "scale", "model", "model__C"}
    _make_files(captured.folder)
    frame = pd.read_csv("train.csv")
    fitted = pipe.fit(frame[["a", "b"]], frame["label"])
    joblib.dump(fitted, "pipe.joblib")
    captured.finish()

    def query(conn: Any) -> list[Any]:
        stmt = (
            sa.select(s.runs.c.facets)
            .join(s.nodes, s.nodes.c.id == s.runs.c.job_node_id)
            .where(s.nodes.c.name == "test/write:pipe.joblib")
        )
        return list(conn.execute(stmt).scalars())

    (facets,) = captured.store.read(query)
    parameters = orjson.loads(facets)["threadline_parameters"]
    assert parameters["parameters"]["model__C"] == 0.5
    assert parameters["parameters"]["model__max_iter"] == 100  # the default, recorded too
    assert parameters["explicit"] == ["model", "model__C", "scale", "steps"]
