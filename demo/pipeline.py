"""A small diagnosis model pipeline on data bundled with scikit-learn. No lineage code here.

Each stage reads files and writes files under one output folder, so the lineage of every
artifact is a question of which files fed which.  ``run_demo.py`` records the stages with the
explicit API; ``python demo/pipeline.py [OUT]`` runs the same code bare, for automatic capture
(``threadline run -- python demo/pipeline.py``).

Outputs are byte-for-byte deterministic for a given set of installed packages: fixed float
formatting, sorted rows, fixed seeds.  Checked across separate interpreter processes with
different ``PYTHONHASHSEED`` values: every file, the joblib models included, has the same
bytes.  A different pandas, pyarrow or scikit-learn version writes different bytes (parquet
footers name the writer; pickled estimators carry ``_sklearn_version``), which is a different
version in lineage terms too.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

VARIANTS: dict[str, dict[str, Any]] = {
    "logreg": {"model": "logistic_regression", "C": 0.5, "max_iter": 500},
    "forest": {"model": "random_forest", "n_estimators": 60, "max_depth": 5},
}
TARGET = "malignant"


def paths(out: Path) -> dict[str, Path]:
    return {
        "patients": out / "raw" / "patients.csv",
        "measurements": out / "raw" / "measurements.json",
        "clean": out / "clean" / "joined.parquet",
        "train": out / "features" / "train.parquet",
        "score": out / "features" / "score.parquet",
        "registry": out / "registry" / "diagnosis-model.joblib",
        "predictions": out / "predictions" / "batch.csv",
    }


def model_path(out: Path, variant: str) -> Path:
    return out / "models" / f"{variant}.joblib"


def eval_path(out: Path, variant: str) -> Path:
    return out / "eval" / f"{variant}.json"


def write_raw_sources(out: Path) -> None:
    """Two raw sources: a patient register (CSV) and lab measurements (JSON lines)."""
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.copy()
    frame.insert(0, "patient_id", [f"P{i:04d}" for i in range(len(frame))])
    frame[TARGET] = (frame.pop("target") == 0).astype(int)
    features = list(data.feature_names)
    register = frame[["patient_id", TARGET, *features[:10]]]
    register = register.assign(email=[f"patient{i}@clinic.example" for i in range(len(frame))])
    lab = frame[["patient_id", *features[10:]]]
    p = paths(out)
    p["patients"].parent.mkdir(parents=True, exist_ok=True)
    register.to_csv(p["patients"], index=False, float_format="%.6g")
    lab.to_json(p["measurements"], orient="records", lines=True, double_precision=10)


def ingest(out: Path) -> None:
    """Join both sources on patient id, drop direct identifiers and incomplete rows."""
    p = paths(out)
    register = pd.read_csv(p["patients"])
    lab = pd.read_json(p["measurements"], orient="records", lines=True)
    joined = register.merge(lab, on="patient_id", how="inner").drop(columns=["email"]).dropna()
    joined = joined.sort_values("patient_id").reset_index(drop=True)
    p["clean"].parent.mkdir(parents=True, exist_ok=True)
    joined.to_parquet(p["clean"], index=False)


def build_features(out: Path) -> None:
    """Log-scale the area columns, hold out every fifth patient as the batch to score."""
    p = paths(out)
    joined = pd.read_parquet(p["clean"])
    for column in [c for c in joined.columns if "area" in c]:
        joined[column] = np.log1p(joined[column])
    holdout = joined.index % 5 == 0
    p["train"].parent.mkdir(parents=True, exist_ok=True)
    joined[~holdout].to_parquet(p["train"], index=False)
    joined[holdout].drop(columns=[TARGET]).to_parquet(p["score"], index=False)


def _estimator(params: dict[str, Any]) -> Pipeline:
    if params["model"] == "logistic_regression":
        model: Any = LogisticRegression(C=params["C"], max_iter=params["max_iter"])
    else:
        model = RandomForestClassifier(
            n_estimators=params["n_estimators"], max_depth=params["max_depth"], random_state=7
        )
    return Pipeline([("scale", StandardScaler()), ("model", model)])


def train(out: Path, variant: str, params: dict[str, Any]) -> None:
    """Fit one variant on three quarters of the training rows; the rest is for evaluation."""
    p = paths(out)
    frame = pd.read_parquet(p["train"])
    fit_part = frame[frame.index % 4 != 0]
    x = fit_part.drop(columns=["patient_id", TARGET])
    estimator = _estimator(params).fit(x, fit_part[TARGET])
    target = model_path(out, variant)
    target.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, target)


def evaluate(out: Path, variant: str) -> dict[str, float]:
    """Accuracy, F1 and ROC AUC on the held-back quarter of the training rows."""
    p = paths(out)
    frame = pd.read_parquet(p["train"])
    check = frame[frame.index % 4 == 0]
    estimator = joblib.load(model_path(out, variant))
    x = check.drop(columns=["patient_id", TARGET])
    predicted = estimator.predict(x)
    scores = estimator.predict_proba(x)[:, 1]
    metrics = {
        "accuracy": round(float(accuracy_score(check[TARGET], predicted)), 6),
        "f1": round(float(f1_score(check[TARGET], predicted)), 6),
        "roc_auc": round(float(roc_auc_score(check[TARGET], scores)), 6),
    }
    target = eval_path(out, variant)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(metrics, sort_keys=True, indent=2) + "\n")
    return metrics


def best_variant(out: Path) -> str:
    """The variant with the best ROC AUC (ties go to the first in ``VARIANTS``)."""
    return max(VARIANTS, key=lambda v: json.loads(eval_path(out, v).read_text())["roc_auc"])


def register(out: Path, variant: str) -> None:
    """Copy one variant's model file into the registry."""
    target = paths(out)["registry"]
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_path(out, variant), target)


def score(out: Path) -> None:
    """Probability and 0/1 prediction for every patient in the held-out batch."""
    p = paths(out)
    batch = pd.read_parquet(p["score"])
    estimator = joblib.load(p["registry"])
    probability = estimator.predict_proba(batch.drop(columns=["patient_id"]))[:, 1]
    result = pd.DataFrame({"patient_id": batch["patient_id"], "probability": probability.round(6)})
    result["prediction"] = (result["probability"] >= 0.5).astype(int)
    p["predictions"].parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(p["predictions"], index=False)


def run_all(out: Path) -> None:
    """Every stage in order, without lineage calls (deployment is a lineage-only event)."""
    write_raw_sources(out)
    ingest(out)
    build_features(out)
    for variant, params in VARIANTS.items():
        train(out, variant, params)
        evaluate(out, variant)
    register(out, best_variant(out))
    score(out)


if __name__ == "__main__":
    run_all(Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output"))
