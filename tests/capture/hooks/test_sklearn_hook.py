"""scikit-learn estimators, pipelines and metrics."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from tests.support.capture_session import Captured

from threadline.capture.hooks._patch import suspended


def data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    frame["y"] = (frame["a"] > 0).astype(int)
    return frame


def test_transform_fit_predict_metrics_dump(captured: Captured) -> None:
    with suspended():
        data().to_csv("train.csv", index=False)
    frame = pd.read_csv("train.csv")
    scaler = StandardScaler().fit(frame[["a", "b"]])
    features = scaler.transform(frame[["a", "b"]])
    model = LogisticRegression().fit(features, frame["y"])
    predicted = model.predict(features)
    import sklearn.metrics as metrics  # looked up after the hooks went in, as a script would

    accuracy = metrics.accuracy_score(frame["y"], predicted)
    f1 = metrics.f1_score(frame["y"], predicted, average="macro")
    assert accuracy == metrics.accuracy_score.__wrapped__(frame["y"], predicted)  # type: ignore[attr-defined]
    joblib.dump(model, "model.joblib")
    captured.capture.finish()
    edges = captured.edges()
    assert ("dataset:train.csv", "input", "job:test/transform:StandardScaler") in edges
    assert (
        "job:test/transform:StandardScaler",
        "output",
        "features:test/features:StandardScaler",
    ) in edges
    assert (
        "job:test/fit:LogisticRegression",
        "output",
        "model:test/model:LogisticRegression",
    ) in edges
    assert captured.upstream("model:model.joblib") == {
        "model:test/model:LogisticRegression",
        "features:test/features:StandardScaler",
        "dataset:train.csv",
    }
    assert captured.upstream("evaluation:test/evaluation:LogisticRegression") >= {
        "predictions:test/predictions:LogisticRegression"
    }
    import orjson
    import sqlalchemy as sa

    from threadline.store import schema as s

    facets = captured.store.read(
        lambda conn: [orjson.loads(r.facets) for r in conn.execute(sa.select(s.versions.c.facets))]
    )
    metrics = next(f["threadline_quality"]["metrics"] for f in facets if "threadline_quality" in f)
    assert metrics == {"accuracy_score": accuracy, "f1_score(average=macro)": f1}


def test_cross_validation_fits_are_not_recorded_one_by_one(captured: Captured) -> None:
    frame = data()
    import sklearn.model_selection as model_selection  # looked up after the hooks went in

    scores = model_selection.cross_val_score(
        LogisticRegression(), frame[["a", "b"]], frame["y"], cv=3
    )
    assert len(scores) == 3
    assert not any("fit:" in dst for _, _, dst in captured.edges())


def test_partial_fit_chains_model_versions(captured: Captured) -> None:
    from sklearn.linear_model import SGDClassifier

    frame = data()
    model = SGDClassifier(random_state=0)
    model.partial_fit(frame[["a", "b"]], frame["y"], classes=[0, 1])
    model.partial_fit(frame[["a", "b"]], frame["y"])
    edges = captured.edges()
    assert ("model:test/model:SGDClassifier", "input", "job:test/fit:SGDClassifier") in edges
