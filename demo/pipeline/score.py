"""Probability and 0/1 prediction for every patient in the held-out batch."""

from __future__ import annotations

import joblib
import pandas as pd
from common import output_folder, paths


def main() -> None:
    p = paths(output_folder())
    batch = pd.read_parquet(p["score"])
    model = joblib.load(p["registry"])
    probability = model.predict_proba(batch.drop(columns=["patient_id"]))[:, 1]
    result = pd.DataFrame({"patient_id": batch["patient_id"], "probability": probability.round(6)})
    result["prediction"] = (result["probability"] >= 0.5).astype(int)
    p["predictions"].parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(p["predictions"], index=False)


if __name__ == "__main__":
    main()
