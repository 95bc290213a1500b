"""Fit a ridge regression on the sold listings; keep the column list for scoring."""

import json
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

table = pd.read_parquet("tables/sales.parquet")
zips = pd.read_csv("raw/zips.csv")
print(f"{len(zips)} zip codes known")
features = table.drop(columns=["listing_id", "price"])
numeric = [c for c in features.columns if c not in ("size_band", "month")]
model = Pipeline(
    [
        (
            "prep",
            ColumnTransformer(
                [
                    ("num", StandardScaler(), numeric),
                    ("cat", OneHotEncoder(handle_unknown="ignore"), ["size_band", "month"]),
                ]
            ),
        ),
        ("ridge", Ridge(alpha=3.0)),
    ]
)
model.fit(features, table["price"])
Path("models").mkdir(exist_ok=True)
joblib.dump(model, "models/price.joblib")
Path("models/columns.json").write_text(json.dumps(list(features.columns)))
residuals = table[["listing_id"]].assign(residual=table["price"] - model.predict(features))
residuals.sample(frac=1.0, random_state=0).to_csv("models/residuals.csv", index=False)
