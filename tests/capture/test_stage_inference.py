"""Stage inference: the kind a write produces and the stage of each operation, from facts."""

from __future__ import annotations

from typing import Any

import joblib
import numpy as np
import orjson
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression
from tests.support.capture_session import Captured

from threadline.capture import stage_inference as si
from threadline.store import schema as s


@pytest.mark.parametrize(
    ("model", "kinds", "row_kind", "precise", "kind"),
    [
        (True, {"dataset"}, None, True, "model"),
        (False, {"dataset"}, "predictions", True, "predictions"),
        (False, {"predictions", "dataset"}, "dataset", True, "predictions"),
        (False, {"evaluation", "model"}, None, True, "evaluation"),
        # Numbers of unknown origin written after metrics: a report of those metrics.
        (False, {"evaluation", "dataset"}, None, False, "evaluation"),
        (False, {"evaluation", "dataset"}, None, True, "dataset"),
        (False, {"features", "dataset"}, "dataset", True, "features"),
        (False, {"dataset"}, "dataset", True, "dataset"),
        (False, set(), None, True, "dataset"),
    ],
)
def test_write_kind(
    model: bool, kinds: set[str], row_kind: str | None, precise: bool, kind: str
) -> None:
    assert (
        si.write_kind(model=model, source_kinds=kinds, row_kind=row_kind, precise=precise) == kind
    )


def test_write_stage_by_kind_unless_the_user_set_one() -> None:
    assert si.write_stage("model", None) == "registration"
    assert si.write_stage("model", None, new_model=True) == "training"
    assert si.write_stage("model", "registration", new_model=True) == "registration"
    assert si.write_stage("predictions", None) == "scoring"
    assert si.write_stage("evaluation", None) == "evaluation"
    assert si.write_stage("features", None) == "features"
    assert si.write_stage("dataset", None) is None  # depends on its inputs: data_stage
    assert si.write_stage("model", "training") == "training"
    assert si.data_stage(from_recorded_data=True) == "features"
    assert si.data_stage(from_recorded_data=False) == "ingestion"


def test_stages_of_model_operations() -> None:
    assert si.prediction_stage(None, loaded_model=True) == "scoring"
    assert si.prediction_stage(None, loaded_model=False) == "evaluation"
    assert si.prediction_stage("evaluation", loaded_model=True) == "evaluation"
    assert si.prediction_stage("features", loaded_model=True) == "scoring"
    assert si.feature_stage(None) == "features"
    assert si.feature_stage("training") == "training"
    assert si.registration_stage(None) == "registration"


def test_the_script_stage_is_the_first_by_priority() -> None:
    assert si.script_stage({"ingestion", "training", "scoring"}) == "training"
    assert si.script_stage({"features", "registration"}) == "features"
    assert si.script_stage(set()) is None
    assert si.script_stage({"deployment"}) == "deployment"


def _job_stages(captured: Captured) -> dict[str, str | None]:
    captured.finish()

    def query(conn: Any) -> list[Any]:
        return list(conn.execute(sa.select(s.nodes.c.name, s.nodes.c.facets)))

    stages: dict[str, str | None] = {}
    for name, facets in captured.store.read(query):
        stage = orjson.loads(facets).get("threadline_stage")
        stages[name] = stage["stage"] if stage else None
    return stages


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_saving_a_model_fitted_here_is_training_and_copying_one_is_registration(
    captured: Captured,
) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 2))
    model = LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))
    joblib.dump(model, "model.joblib")  # the output of the fit
    (captured.folder / "registry").mkdir()
    joblib.dump(model, "registry/model-v1.joblib")  # the same version put in a registry
    joblib.dump(joblib.load("model.joblib"), "registry/model-v2.joblib")  # a loaded model
    stages = _job_stages(captured)
    assert stages["test/fit:LogisticRegression"] == "training"
    assert stages["test/write:model.joblib"] == "training"
    assert stages["test/write:model-v1.joblib"] == "registration"
    assert stages["test/write:model-v2.joblib"] == "registration"
