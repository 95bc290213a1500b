"""Fingerprints of estimators."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from threadline.fingerprint import (
    fingerprint_object,
)


def training_data(
    seed: int = 0, rows: int = 200
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 3))
    return features, (features[:, 0] + 0.3 * features[:, 1] > 0).astype(int)


def test_estimator_fitted_unfitted_and_refit() -> None:
    features, target = training_data()
    unfitted = fingerprint_object(LogisticRegression())
    fitted = fingerprint_object(LogisticRegression().fit(features, target))
    refit_same = fingerprint_object(LogisticRegression().fit(features, target))
    other_params = fingerprint_object(LogisticRegression(C=0.1).fit(features, target))
    other_data = fingerprint_object(LogisticRegression().fit(*training_data(seed=1)))
    assert unfitted is not None
    assert fitted == refit_same
    assert len({unfitted, fitted, other_params, other_data}) == 4


def test_pipeline_recurses_into_its_steps() -> None:
    features, target = training_data()
    base = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, target)
    changed = make_pipeline(StandardScaler(with_mean=False), LogisticRegression())
    assert fingerprint_object(base) != fingerprint_object(changed.fit(features, target))
    again = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, target)
    assert fingerprint_object(base) == fingerprint_object(again)


def test_tree_models_hash_their_learned_trees() -> None:
    features, target = training_data()
    forest = RandomForestClassifier(n_estimators=3, random_state=0)
    first = fingerprint_object(forest.fit(features, target))
    assert first == fingerprint_object(
        RandomForestClassifier(n_estimators=3, random_state=0).fit(features, target)
    )
    flipped = RandomForestClassifier(n_estimators=3, random_state=0).fit(features, 1 - target)
    assert fingerprint_object(flipped) != first


class Duck:
    """A minimal sklearn-style estimator with an attribute that has no canonical encoding."""

    def __init__(self, tags: frozenset[str] = frozenset({"b", "a"})) -> None:
        self.tags = tags

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"tags": self.tags}

    def fit(self, features: Any, target: Any = None) -> Duck:
        self.weights_ = np.asarray(features, dtype=float).mean(axis=0)
        self.opaque_ = object()
        self._private_ = object()
        return self


def test_duck_typed_estimator_skips_unencodable_attributes_deterministically() -> None:
    one = fingerprint_object(Duck().fit([[1.0, 2.0]]))
    two = fingerprint_object(Duck().fit([[1.0, 2.0]]))
    assert one is not None
    assert one == two
    assert fingerprint_object(Duck().fit([[1.0, 2.5]])) != one
