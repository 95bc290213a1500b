"""``threadline run -- python script.py`` on real pandas/polars/pyarrow/sklearn/joblib scripts."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from tests.support.runner import Project

from threadline.capture.api import memory_namespace
from threadline.capture.project import folder_namespace
from threadline.fingerprint import fingerprint_path


def _memory(project: Project) -> str:
    """Namespace of the in-memory datasets of a script run in the project's folder (no git
    repository and no settings file there: the folder names the project)."""
    return memory_namespace(folder_namespace(project.root))


TRAIN = """
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv("raw.csv")
    unrelated = pd.read_csv("unrelated.csv")
    X, y = df[["a", "b"]], df["label"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_train, y_train)
    print("accuracy", accuracy_score(y_test, model.predict(X_test)))
    joblib.dump(model, "model.joblib")
    unrelated.to_csv("unrelated_copy.csv", index=False)
"""

SCORE = """
    import joblib
    import pandas as pd

    model = joblib.load("model.joblib")
    batch = pd.read_csv("raw.csv")
    out = pd.DataFrame({"prediction": model.predict(batch[["a", "b"]])})
    out.to_csv("predictions.csv", index=False)
"""

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_training_script_records_the_true_upstream_of_the_model(
    project: Project, make_data: Callable[[], None]
) -> None:
    make_data()
    project.write("train.py", TRAIN)
    done = project.python("train.py")
    assert done.stdout.startswith("accuracy ")  # the script's own output is untouched

    graph = project.graph()
    assert graph.triples() == {
        # X_train/X_test are promoted to features versions (train and test).
        ("dataset:raw.csv", "input", "job:train.py/features"),
        ("job:train.py/features", "output", "features:train.py/features"),
        ("features:train.py/features", "input", "job:train.py/fit:Pipeline"),
        ("dataset:raw.csv", "input", "job:train.py/fit:Pipeline"),  # y_train
        ("job:train.py/fit:Pipeline", "output", "model:train.py/model:Pipeline"),
        ("features:train.py/features", "input", "job:train.py/predict:Pipeline"),
        ("model:train.py/model:Pipeline", "input", "job:train.py/predict:Pipeline"),
        ("job:train.py/predict:Pipeline", "output", "predictions:train.py/predictions:Pipeline"),
        ("predictions:train.py/predictions:Pipeline", "input", "job:train.py/evaluate:Pipeline"),
        ("dataset:raw.csv", "input", "job:train.py/evaluate:Pipeline"),  # y_test
        # The metrics evaluate the model that made the predictions.
        ("model:train.py/model:Pipeline", "input", "job:train.py/evaluate:Pipeline"),
        ("job:train.py/evaluate:Pipeline", "output", "evaluation:train.py/evaluation:Pipeline"),
        ("model:train.py/model:Pipeline", "input", "job:train.py/write:model.joblib"),
        ("job:train.py/write:model.joblib", "output", "model:model.joblib"),
        ("dataset:unrelated.csv", "input", "job:train.py/write:unrelated_copy.csv"),
        ("job:train.py/write:unrelated_copy.csv", "output", "dataset:unrelated_copy.csv"),
        # The script run lists what it read and adds no paths of its own.
        ("dataset:raw.csv", "input", "job:train.py"),
        ("dataset:unrelated.csv", "input", "job:train.py"),
    }
    assert graph.data_upstream("model:model.joblib") == {
        "model:train.py/model:Pipeline",
        "features:train.py/features",
        "dataset:raw.csv",
    }
    # Versions are the files' content fingerprints.
    assert graph.latest("model:model.joblib").version == fingerprint_path(
        project.root / "model.joblib"
    )
    assert graph.latest("dataset:raw.csv").version == fingerprint_path(project.root / "raw.csv")
    # Stages are inferred per operation and for the script.
    assert graph.stage("train.py") == "training"
    assert graph.stage("train.py/fit:Pipeline") == "training"
    assert graph.stage("train.py/write:model.joblib") == "training"  # the fit's own output
    assert graph.stage("train.py/evaluate:Pipeline") == "evaluation"
    assert graph.stage("train.py/write:unrelated_copy.csv") == "ingestion"
    metrics = graph.facets("evaluation:train.py/evaluation:Pipeline")["threadline_quality"][
        "metrics"
    ]
    assert set(metrics) == {"accuracy_score"}
    assert float(done.stdout.split()[1]) == pytest.approx(metrics["accuracy_score"])
    # Every operation is a child run of the script run.
    root = graph.run("train.py")
    assert root.state == "COMPLETE"
    children = [r for r in graph.runs if r.parent_run_id == root.run_id]
    assert len(children) == 7


def test_one_prediction_traces_back_through_rows_model_and_raw_files(
    project: Project, make_data: Callable[[], None]
) -> None:
    make_data()
    project.write("train.py", TRAIN)
    project.write("score.py", SCORE)
    project.python("train.py")
    project.python("score.py", options=("--reason", "nightly batch"))

    graph = project.graph()
    assert graph.stage("score.py") == "scoring"
    assert graph.stage("score.py/predict:Pipeline") == "scoring"  # a loaded model
    # predictions.csv row k -> predictions row k -> scored features row k -> raw.csv row k.
    rows = graph.facets("predictions:predictions.csv")["threadline_rows"]
    assert rows["mapping"] == "positional"
    assert rows["columns"] == ["prediction"]
    assert rows["rows"] == 120
    assert rows["input"].startswith(
        f"predictions:{_memory(project)}/score.py/predictions:Pipeline@b3:"
    )
    predictions = graph.facets("predictions:score.py/predictions:Pipeline")["threadline_rows"]
    assert (
        predictions["model"]
        == f"model:{graph.nodes[graph.latest('model:model.joblib').node_id].namespace}{project.root}/model.joblib@{graph.latest('model:model.joblib').version}"
    )
    assert predictions["input"].startswith(f"features:{_memory(project)}/score.py/features@")
    features = graph.facets("features:score.py/features")["threadline_rows"]
    assert features["input"].endswith(f"/raw.csv@{fingerprint_path(project.root / 'raw.csv')}")
    assert graph.data_upstream("predictions:predictions.csv") == {
        "predictions:score.py/predictions:Pipeline",
        "features:score.py/features",
        "model:model.joblib",
        "model:train.py/model:Pipeline",
        "features:train.py/features",
        "dataset:raw.csv",
    }
    reason = graph.run("score.py").facets
    assert "nightly batch" in reason


def test_polars_pyarrow_numpy_and_pickle(project: Project, make_data: Callable[[], None]) -> None:
    make_data()
    project.write(
        "clean.py",
        """
        import pandas as pd
        pd.read_csv("raw.csv").dropna().to_parquet("clean.parquet")
        """,
    )
    project.write(
        "features.py",
        """
        import pickle
        import numpy as np
        import polars as pl
        import pyarrow.csv as pc
        import pyarrow.parquet as pq

        frame = pl.read_parquet("clean.parquet")
        feats = frame.with_columns((pl.col("a") * 2).alias("a2")).select(["a", "a2", "label"])
        feats.write_parquet("features.parquet")
        small = pl.scan_csv("unrelated.csv").filter(pl.col("z") > 1).collect()
        small.write_csv("small.csv")
        np.save("matrix", feats.select(["a", "a2"]).to_numpy())
        with open("matrix.pkl", "wb") as handle:
            pickle.dump(np.load("matrix.npy"), handle)
        pc.write_csv(pq.read_table("features.parquet"), "features.csv")
        """,
    )
    project.python("clean.py")
    project.python("features.py")
    graph = project.graph()
    feature_edges = {
        t for t in graph.triples() if t[0].startswith(("job:features.py", "dataset", "features"))
    }
    assert {
        ("dataset:clean.parquet", "input", "job:features.py/write:features.parquet"),
        ("job:features.py/write:features.parquet", "output", "features:features.parquet"),
        ("dataset:unrelated.csv", "input", "job:features.py/write:small.csv"),
        ("dataset:clean.parquet", "input", "job:features.py/write:matrix.npy"),
        ("features:matrix.npy", "input", "job:features.py/write:matrix.pkl"),
        ("features:features.parquet", "input", "job:features.py/write:features.csv"),
    } <= feature_edges
    # Only the unrelated file is upstream of small.csv.
    assert graph.data_upstream("dataset:small.csv") == {"dataset:unrelated.csv"}
    # clean.parquet was produced by a recorded run, so writing from it is the features stage;
    # reading raw files no run produced is ingestion.
    assert graph.stage("clean.py") == "ingestion"
    assert graph.stage("features.py/write:features.parquet") == "features"
    assert graph.stage("features.py/write:small.csv") == "ingestion"
    rows = graph.facets("features:features.csv")["threadline_rows"]
    assert rows["input"].endswith(graph.latest("features:features.parquet").version)


def test_labels_and_owners_from_configuration_propagate(
    project: Project, make_data: Callable[[], None]
) -> None:
    make_data()
    project.write(
        "pyproject.toml",
        """
        [tool.threadline]
        namespace = "fraud"
        owners = ["team:ml"]

        [[tool.threadline.classify]]
        column = "email"
        labels = ["pii"]

        [[tool.threadline.classify]]
        path = "raw.csv"
        owners = ["team:data"]
        """,
    )
    project.write("train.py", TRAIN)
    project.python("train.py")
    graph = project.graph()
    raw = graph.node_facets("dataset:raw.csv")
    assert raw["threadline_classification"]["labels"] == ["pii"]
    assert raw["ownership"]["owners"] == [{"name": "team:data"}]
    model = graph.node_facets("model:model.joblib")
    assert model["threadline_classification"] == {
        **model["threadline_classification"],
        "labels": [],
        "inherited": ["pii"],
    }
    assert model["ownership"]["owners"] == [{"name": "team:ml"}]
    unrelated = graph.node_facets("dataset:unrelated_copy.csv")
    assert "threadline_classification" not in unrelated
    assert graph.run("train.py").job_node_id in graph.nodes
    assert graph.nodes[graph.run("train.py").job_node_id].namespace == "fraud"


def test_options_name_the_job_and_override_the_stage(
    project: Project, make_data: Callable[[], None]
) -> None:
    make_data()
    project.write("copy_job.py", "import pandas as pd\npd.read_csv('raw.csv').to_csv('out.csv')\n")
    project.python("copy_job.py", options=("--job", "nightly-copy", "--stage", "features"))
    graph = project.graph()
    assert graph.stage("nightly-copy") == "features"
    assert graph.stage("nightly-copy/write:out.csv") == "features"


def test_a_failing_script_keeps_its_exit_code_and_error(project: Project) -> None:
    project.write("boom.py", "raise SystemExit(3)\n")
    project.write("fail.py", "print('before')\nraise ValueError('bad input')\n")
    done = project.python("fail.py", check=False)
    assert done.returncode == 1
    assert done.stdout == "before\n"
    assert "ValueError: bad input" in done.stderr
    assert "threadline" not in done.stderr
    exited = project.python("boom.py", check=False)
    assert exited.returncode == 3
    graph = project.graph()
    assert graph.run("fail.py").state == "FAIL"
    assert "bad input" in graph.run("fail.py").facets
    # raise SystemExit(3) is invisible to the script's hooks: threadline run sees the status.
    assert graph.run("boom.py").state == "FAIL"
    assert "the command exited with status 3" in graph.run("boom.py").facets


def test_sys_exit_with_a_failure_status_fails_the_run(project: Project) -> None:
    project.write("quit.py", "import sys\nprint('half way')\nsys.exit('no input files')\n")
    project.write("fine.py", "import sys\nsys.exit(0)\n")
    project.write("none.py", "import sys\nsys.exit()\n")
    done = project.python("quit.py", check=False)
    assert done.returncode == 1
    assert done.stdout == "half way\n"
    assert done.stderr == "no input files\n"
    project.python("fine.py")
    project.python("none.py")
    graph = project.graph()
    assert graph.run("quit.py").state == "FAIL"
    assert "SystemExit: exit status no input files" in graph.run("quit.py").facets
    assert graph.run("fine.py").state == "COMPLETE"
    assert graph.run("none.py").state == "COMPLETE"


def test_an_unreachable_store_never_stops_the_program(
    project: Project, make_data: Callable[[], None]
) -> None:
    make_data()
    (project.root / "blocker").write_text("a file, so the store cannot be created under it")
    project.write(
        "copy_job.py",
        "import pandas as pd\npd.read_csv('raw.csv').to_csv('out.csv')\nprint('done')\n",
    )
    done = project.python("copy_job.py", THREADLINE_STORE=str(project.root / "blocker" / "x.db"))
    assert done.stdout == "done\n"
    assert (project.root / "out.csv").exists()
    assert done.stderr.count("cannot use the store") == 1


def test_the_store_and_installed_packages_are_never_recorded(project: Project) -> None:
    project.write(
        "meta.py",
        """
        import os, pandas as pd, sklearn
        here = os.path.dirname(sklearn.__file__)
        pd.read_csv(os.path.join(here, "datasets", "data", "iris.csv"))
        pd.DataFrame({"x": [1]}).to_csv("out.csv")
        """,
    )
    project.python("meta.py")
    graph = project.graph()
    names = {graph.name(v) for v in graph.versions}
    assert not any("site-packages" in n or "lineage.db" in n for n in names)
    assert "dataset:out.csv" in names


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")
def test_worker_processes_are_not_captured_as_scripts(project: Project) -> None:
    project.write(
        "pool.py",
        """
        import multiprocessing as mp

        def square(x):
            return x * x

        if __name__ == "__main__":
            with mp.get_context("spawn").Pool(1) as pool:
                print(sum(pool.map(square, range(4))))
        """,
    )
    done = project.python("pool.py")
    assert done.stdout == "14\n"
    graph = project.graph()
    assert {graph.nodes[r.job_node_id].name for r in graph.runs} == {"pool.py"}
