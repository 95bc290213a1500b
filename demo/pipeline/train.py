"""Fit one model variant on three quarters of the training rows; the rest is for evaluation."""

from __future__ import annotations

from typing import Any

import joblib
import pandas as pd
from common import TARGET, VARIANTS, model_path, output_folder, paths, variant_argument
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def estimator(params: dict[str, Any]) -> Pipeline:
    if params["model"] == "logistic_regression":
        model: Any = LogisticRegression(C=params["C"], max_iter=params["max_iter"])
    else:
        model = RandomForestClassifier(
            n_estimators=params["n_estimators"], max_depth=params["max_depth"], random_state=7
        )
    return Pipeline([("scale", StandardScaler()), ("model", model)])


def main() -> None:
    out, variant = output_folder(), variant_argument()
    frame = pd.read_parquet(paths(out)["train"])
    fit_part = frame[frame.index % 4 != 0]
    x = fit_part.drop(columns=["patient_id", TARGET])
    fitted = estimator(VARIANTS[variant]).fit(x, fit_part[TARGET])
    target = model_path(out, variant)
    target.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(fitted, target)


if __name__ == "__main__":
    main()
