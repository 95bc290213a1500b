"""Raw exports: customers, their usage events, a region lookup, a holiday calendar, and a new
batch of customers to score; the run settings in a JSON file."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
Path("raw").mkdir(exist_ok=True)


def customers(first: int, count: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": np.arange(first, first + count),
            "region_id": rng.integers(1, 6, count),
            "tenure_months": rng.integers(1, 72, count),
            "monthly_fee": rng.normal(40, 12, count).round(2),
            "email": [f"c{i}@example.com" for i in range(first, first + count)],
        }
    )


def usage(ids: np.ndarray) -> pd.DataFrame:
    events = len(ids) * 4
    return pd.DataFrame(
        {
            "customer_id": rng.choice(ids, events),
            "minutes": rng.exponential(30, events).round(1),
            "dropped_calls": rng.poisson(0.4, events),
        }
    )


train = customers(0, 400)
train["churned"] = (rng.random(400) < 0.25 + 0.004 * (train["monthly_fee"] - 40)).astype(int)
train.to_csv("raw/customers.csv", index=False)
usage(train["customer_id"].to_numpy()).to_csv("raw/usage.csv", index=False)
new = customers(1000, 120)
new.to_csv("raw/new_customers.csv", index=False)
usage(new["customer_id"].to_numpy()).to_csv("raw/new_usage.csv", index=False)
pd.DataFrame(
    {"region_id": [1, 2, 3, 4, 5], "region_name": ["north", "south", "east", "west", "centre"]}
).to_csv("raw/regions.csv", index=False)
pd.DataFrame({"day": pd.date_range("2026-01-01", periods=12, freq="MS")}).to_csv(
    "raw/holidays.csv", index=False
)
with open("settings.json", "w") as handle:
    json.dump({"threshold": 0.4, "C": 0.5}, handle)
