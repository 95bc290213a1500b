"""Raw exports: house sales with dates and free-text descriptions, neighbourhood statistics,
a zip-code directory, agent contacts, and a batch of new listings."""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(5)
Path("raw").mkdir(exist_ok=True)


def listings(count: int, first: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "listing_id": np.arange(first, first + count),
            "hood": rng.choice(["oak", "elm", "ash", "fir"], count),
            "zip": rng.choice([10001, 10002, 10003], count),
            "sqft": rng.normal(1400, 350, count).round(),
            "rooms": rng.integers(1, 7, count),
            "listed": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 365, count), unit="D"),
            "description": rng.choice(["Bright flat", "garden HOUSE", "loft w/ view"], count),
            "agent_id": rng.integers(0, 8, count),
        }
    )


sold = listings(500, 0)
sold["price"] = (sold["sqft"] * 310 + sold["rooms"] * 9000 + rng.normal(0, 20000, 500)).round()
sold.to_csv("raw/sales.csv", index=False)
listings(80, 5000).to_csv("raw/new_listings.csv", index=False)
pd.DataFrame(
    {
        "hood": ["oak", "elm", "ash", "fir"],
        "crime_rate": [0.2, 0.5, 0.3, 0.1],
        "schools": [3, 1, 2, 4],
    }
).to_parquet("raw/hoods.parquet", index=False)
pd.DataFrame({"zip": [10001, 10002, 10003], "city": ["A-town", "B-ville", "C-city"]}).to_csv(
    "raw/zips.csv", index=False
)
pd.DataFrame({"agent_id": range(8), "phone": [f"555-01{i:02d}" for i in range(8)]}).to_csv(
    "raw/agents.csv", index=False
)
