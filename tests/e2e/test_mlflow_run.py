"""MLflow under ``threadline run``: a real tracking store in SQLite."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.support.runner import Project

pytest.importorskip("mlflow")

SCRIPT = """
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    df = pd.read_csv("raw.csv")
    with mlflow.start_run() as run:
        model = LogisticRegression().fit(df[["a", "b"]], df["label"])
        mlflow.sklearn.log_model(model, name="model", registered_model_name="churn")
    print(run.info.run_id)
    served = mlflow.sklearn.load_model("models:/churn/1")
    pd.DataFrame({"p": served.predict(df[["a", "b"]])}).to_csv("predictions.csv", index=False)
"""


def test_logged_registered_and_loaded_models(
    project: Project, make_data: Callable[[], None]
) -> None:
    make_data()
    project.write("track.py", SCRIPT)
    done = project.python("track.py")
    run_id = done.stdout.split()[-1]
    graph = project.graph()
    prefix = f"{project.root.as_posix().strip('/')}/mlflow.db"
    logged = f"model:{prefix}/runs/{run_id}/model"
    registered = f"model:{prefix}/models/churn"
    triples = graph.triples()
    assert (
        "model:track.py/model:LogisticRegression",
        "input",
        "job:track.py/register:model",
    ) in triples
    assert ("job:track.py/register:model", "output", logged) in triples
    assert (logged, "input", "job:track.py/register:churn") in triples
    assert ("job:track.py/register:churn", "output", registered) in triples
    assert graph.latest(registered).version == "mlflow:1"
    # Predictions made with the registered version are scoring and trace back through it.
    assert graph.stage("track.py/predict:LogisticRegression") == "scoring"
    assert {logged, registered, "dataset:raw.csv"} <= graph.data_upstream(
        "predictions:predictions.csv"
    )
    root = graph.capture_facet("track.py")
    assert root["mlflowRunIds"] == [run_id]
    fit = graph.capture_facet("track.py/fit:LogisticRegression")
    assert fit["mlflowRunId"] == run_id
    # MLflow's own helper process is not a script of the user's.
    assert all("site-packages" not in graph.nodes[r.job_node_id].name for r in graph.runs)
