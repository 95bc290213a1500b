"""Accuracy, F1 and ROC AUC of one variant on the held-back quarter of the training rows."""

from __future__ import annotations

import joblib
import pandas as pd
from common import TARGET, eval_path, model_path, output_folder, paths, variant_argument
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score


def main() -> None:
    out, variant = output_folder(), variant_argument()
    frame = pd.read_parquet(paths(out)["train"])
    check = frame[frame.index % 4 == 0]
    model = joblib.load(model_path(out, variant))
    x = check.drop(columns=["patient_id", TARGET])
    predicted = model.predict(x)
    scores = model.predict_proba(x)[:, 1]
    metrics = {
        "accuracy": round(float(accuracy_score(check[TARGET], predicted)), 6),
        "f1": round(float(f1_score(check[TARGET], predicted)), 6),
        "roc_auc": round(float(roc_auc_score(check[TARGET], scores)), 6),
    }
    target = eval_path(out, variant)
    target.parent.mkdir(parents=True, exist_ok=True)
    pd.Series(metrics).to_json(target, indent=2)


if __name__ == "__main__":
    main()
