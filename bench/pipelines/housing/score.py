"""Price the new listings."""

import json
from pathlib import Path

import joblib
import pandas as pd

columns = json.loads(Path("models/columns.json").read_text())
batch = pd.read_parquet("tables/new_listings.parquet")
model = joblib.load("models/price.joblib")
X = batch.reindex(columns=columns, fill_value=0)
prices = pd.Series(model.predict(X), index=batch.index, name="price").round(-2)
out = pd.concat([batch["listing_id"], prices], axis=1)
out["band"] = pd.cut(
    out["price"], [0, 400_000, 600_000, float("inf")], labels=["low", "mid", "high"]
)
Path("predictions").mkdir(exist_ok=True)
out.to_csv("predictions/prices.csv", index=False)
