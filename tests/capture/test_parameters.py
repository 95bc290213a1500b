"""Estimator parameters: every effective value is recorded, the explicitly set ones marked."""

from __future__ import annotations

from typing import Any

import joblib
import numpy as np
import orjson
import pytest
import sqlalchemy as sa
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tests.support.capture_session import Captured

from threadline.capture.parameters import Parameters, estimator_parameters, explicit_keys
from threadline.query.diff import Change, diff
from threadline.store import schema as s

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_defaults_are_recorded_and_the_chosen_values_marked() -> None:
    pipe = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=0.5))])
    params = estimator_parameters(pipe)
    deep = pipe.get_params(deep=True)
    assert set(params) == set(deep)  # every effective parameter, named as scikit-learn does
    assert params["steps"] == ["scale", "model"]
    assert params["model"] == "LogisticRegression"
    assert params["model__C"] == 0.5
    assert params["model__max_iter"] == deep["model__max_iter"] == 100  # a default, recorded
    assert params.explicit == {"steps", "scale", "model", "model__C"}


def test_a_model_left_at_its_defaults_has_parameters_and_chose_none() -> None:
    params = estimator_parameters(LogisticRegression())
    assert params["C"] == 1.0
    assert params.explicit == frozenset()
    assert explicit_keys(params) == []
    assert explicit_keys({"C": 1.0}) is None  # a plain mapping does not say


def test_nested_transformers_and_passthrough_steps() -> None:
    columns = ColumnTransformer(
        [("num", StandardScaler(with_mean=False), [0]), ("rest", "drop", [1])]
    )
    params = estimator_parameters(Pipeline([("prep", columns), ("noop", "passthrough")]))
    assert params["prep__transformers"] == ["num", "rest"]
    assert params["prep__num"] == "StandardScaler"
    assert params["prep__num__with_mean"] is False
    assert params["prep__rest"] == "drop"
    assert params["noop"] == "passthrough"
    assert {"prep__num__with_mean", "prep__rest"} <= params.explicit
    assert "prep__num__with_std" not in params.explicit


def test_a_failing_get_params_gives_no_parameters() -> None:
    class Broken:
        def get_params(self, deep: bool = True) -> dict[str, Any]:
            raise RuntimeError("no")

    assert estimator_parameters(Broken()) == Parameters({})


def _fit_facets(captured: Captured) -> list[dict[str, Any]]:
    def query(conn: Any) -> list[Any]:
        stmt = (
            sa.select(s.runs.c.facets)
            .join(s.nodes, s.nodes.c.id == s.runs.c.job_node_id)
            .where(s.nodes.c.name == "test/fit:LogisticRegression")
            .order_by(s.runs.c.first_seq)
        )
        return list(conn.execute(stmt).scalars())

    return [orjson.loads(text)["threadline_parameters"] for text in captured.store.read(query)]


def test_diff_of_a_default_and_a_chosen_value_shows_both(captured: Captured) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 2))
    labels = (features[:, 0] > 0).astype(int)
    joblib.dump(LogisticRegression().fit(features, labels), "default.joblib")
    joblib.dump(LogisticRegression(C=0.01).fit(features, labels), "small.joblib")
    captured.finish()

    left_at_default, chosen = _fit_facets(captured)
    assert left_at_default["parameters"]["C"] == 1.0
    assert left_at_default["explicit"] == []
    assert chosen["explicit"] == ["C"]
    result = diff(captured.store, "default.joblib", "small.joblib")
    assert Change("C", "changed", 1.0, 0.01) in result.parameters
    assert [c.key for c in result.parameters] == ["C"]  # the defaults they share are no change
