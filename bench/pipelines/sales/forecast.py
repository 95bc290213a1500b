"""Forecast units for the last weeks with the trained model."""

from pathlib import Path

import joblib
import numpy as np
import polars as pl

COLUMNS = ["units_last_week", "promo", "avg_price", "size_m2", "revenue_per_m2"]
weekly = pl.read_parquet("features/weekly.parquet")
stores = pl.read_csv("raw/stores.csv")
print(f"forecasting {stores.height} stores")
model = joblib.load("models/units.joblib")
latest = weekly.filter(pl.col("week") >= 14)
forecast = latest.select(["store_id", "week"]).with_columns(
    pl.Series("forecast", np.rint(model.predict(latest.select(COLUMNS).to_numpy())))
)
Path("predictions").mkdir(exist_ok=True)
forecast.write_csv("predictions/forecast.csv")
