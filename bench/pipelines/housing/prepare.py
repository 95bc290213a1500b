"""Model table for sold or new listings: dates and text to numbers, neighbourhood statistics
mapped in, one-hot rooms; the zip directory and the agents list only feed what is printed."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

name = sys.argv[1]  # "sales" or "new_listings"
frame = pd.read_csv(f"raw/{name}.csv", parse_dates=["listed"])
hoods = pd.read_parquet("raw/hoods.parquet")
zips = pd.read_csv("raw/zips.csv")
agents = pd.read_csv("raw/agents.csv")

crime = dict(zip(hoods["hood"], hoods["crime_rate"], strict=True))
frame["crime_rate"] = frame["hood"].map(crime)
frame = frame.merge(hoods[["hood", "schools"]], on="hood", how="left")
frame["month"] = frame["listed"].dt.month
frame["is_house"] = frame["description"].str.lower().str.contains("house").astype(int)
frame["size_band"] = pd.qcut(frame["sqft"], 4, labels=False)
frame["big"] = np.where(frame["sqft"] > 1600, 1, 0)
frame = pd.get_dummies(frame, columns=["rooms"], prefix="rooms", dtype=int)
table = frame.drop(columns=["listed", "description", "hood", "agent_id", "zip"])
table = table.query("sqft > 300").reset_index(drop=True)

with_city = frame.merge(zips, on="zip")
print(with_city.groupby("city").size())
print(f"{agents['phone'].nunique()} agents on call")
Path("tables").mkdir(exist_ok=True)
table.to_parquet(f"tables/{name}.parquet", index=False)
