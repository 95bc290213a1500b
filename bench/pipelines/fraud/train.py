"""A random forest on the account features and labels; the out-of-bag scores per account."""

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

features = pd.read_parquet("features/accounts.parquet")
labels = pd.read_csv("raw/labels.csv")
countries = pd.read_csv("raw/countries.csv")
print(f"{len(countries)} countries")
data = features.merge(labels, on="account_id", how="inner")
columns = [c for c in data.columns if c not in ("account_id", "fraud")]
X = np.hstack([data[columns].to_numpy(), data[["n"]].to_numpy() ** 0.5])
model = RandomForestClassifier(n_estimators=50, oob_score=True, random_state=0)
model.fit(X, data["fraud"])
oob = pd.DataFrame({"account_id": data["account_id"], "oob": model.oob_decision_function_[:, 1]})
Path("models").mkdir(exist_ok=True)
joblib.dump(model, "models/fraud.joblib")
oob.iloc[:, :2].to_csv("models/oob_scores.csv", index=False)
