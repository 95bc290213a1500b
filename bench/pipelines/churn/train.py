"""Fit a scaled logistic regression on the customer features; write the model, its metrics
and its coefficients."""

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

COLUMNS = ["tenure_months", "monthly_fee", "minutes", "calls", "dropped", "fee_per_minute"]
settings = json.loads(Path("settings.json").read_text())
frame = pd.read_parquet("features/train_customers.parquet")
regions = pd.read_csv("raw/regions.csv")
print(f"training on {len(frame)} customers in {regions['region_name'].nunique()} regions")

X = np.log1p(frame[COLUMNS].to_numpy())
y = frame["churned"].values
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
model = make_pipeline(StandardScaler(), LogisticRegression(C=settings["C"], max_iter=500))
model.fit(X_train, y_train)
proba = model.predict_proba(X_test)[:, 1]
metrics = {
    "accuracy": float(accuracy_score(y_test, (proba > settings["threshold"]).astype(int))),
    "roc_auc": float(roc_auc_score(y_test, proba)),
}
Path("models").mkdir(exist_ok=True)
joblib.dump(model, "models/churn.joblib")
Path("eval").mkdir(exist_ok=True)
pd.Series(metrics).to_json("eval/metrics.json")
coefficients = pd.DataFrame({"feature": COLUMNS, "weight": model[-1].coef_[0]})
coefficients.to_csv("reports/coefficients.csv", index=False)
