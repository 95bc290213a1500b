"""Score the new customers with the trained model."""

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

COLUMNS = ["tenure_months", "monthly_fee", "minutes", "calls", "dropped", "fee_per_minute"]
settings = json.loads(Path("settings.json").read_text())
batch = pd.read_parquet("features/new_customers.parquet")
regions = pd.read_csv("raw/regions.csv")
model = joblib.load("models/churn.joblib")
proba = model.predict_proba(np.log1p(batch[COLUMNS].to_numpy()))[:, 1]
scores = pd.DataFrame({"customer_id": batch["customer_id"], "score": proba.round(4)})
scores["at_risk"] = (scores["score"] > settings["threshold"]).astype(int)
print(f"{int(scores['at_risk'].sum())} of {len(scores)} at risk; {len(regions)} regions")
Path("predictions").mkdir(exist_ok=True)
scores.to_csv("predictions/churn_scores.csv", index=False)
