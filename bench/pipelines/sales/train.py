"""A gradient-boosting regressor of next week's units from the weekly features."""

from pathlib import Path

import joblib
import polars as pl
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import mean_absolute_error

COLUMNS = ["units_last_week", "promo", "avg_price", "size_m2", "revenue_per_m2"]
weekly = pl.read_parquet("features/weekly.parquet")
train = weekly.filter(pl.col("week") < 14)
test = weekly.filter(pl.col("week") >= 14)
model = GradientBoostingRegressor(n_estimators=60, random_state=0)
model.fit(train.select(COLUMNS).to_numpy(), train["units"].to_numpy())
error = mean_absolute_error(
    test["units"].to_numpy(), model.predict(test.select(COLUMNS).to_numpy())
)
Path("models").mkdir(exist_ok=True)
joblib.dump(model, "models/units.joblib")
pl.DataFrame({"metric": ["mae"], "value": [error]}).write_json("models/units_metrics.json")
