"""Customer features: usage aggregated per customer, joined to the customer table.

The region lookup only feeds a printed report (and a report file); the holiday calendar is read
and only its length printed."""

import json
import sys
from pathlib import Path

import pandas as pd

prefix = sys.argv[1] if len(sys.argv) > 1 else ""  # "" (training) or "new_" (scoring)
settings = json.loads(Path("settings.json").read_text())
customers = pd.read_csv(f"raw/{prefix}customers.csv")
usage = pd.read_csv(f"raw/{prefix}usage.csv")
regions = pd.read_csv("raw/regions.csv")
holidays = pd.read_csv("raw/holidays.csv")
print(f"{len(holidays)} holidays in the calendar")

per_customer = usage.groupby("customer_id").agg(
    minutes=("minutes", "sum"), calls=("minutes", "size"), dropped=("dropped_calls", "sum")
)
features = customers.merge(per_customer, left_on="customer_id", right_index=True, how="left")
features = features.fillna({"minutes": 0, "calls": 0, "dropped": 0})
features["fee_per_minute"] = features["monthly_fee"] / (features["minutes"] + 1)
features = features.assign(drop_rate=features["dropped"] / (features["calls"] + 1))
features = features.drop(columns=["email"])
features = features[features["tenure_months"] >= 1]

report = customers.merge(regions, on="region_id").groupby("region_name")["monthly_fee"].mean()
print(report.round(2).to_string())
Path("reports").mkdir(exist_ok=True)
if not prefix:
    report.to_frame().to_csv("reports/fee_by_region.csv")
Path("features").mkdir(exist_ok=True)
features.to_parquet(f"features/{prefix or 'train_'}customers.parquet", index=False)
