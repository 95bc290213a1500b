"""Raw exports: card transactions, merchants, account labels, a blocklist of accounts,
country names (a lookup) and exchange rates."""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(3)
Path("raw").mkdir(exist_ok=True)
count = 3000
accounts = 300
pd.DataFrame(
    {
        "account_id": rng.integers(0, accounts, count),
        "merchant_id": rng.integers(0, 40, count),
        "category": rng.choice(["food", "travel", "games", "fuel"], count),
        "amount": rng.lognormal(3, 1, count).round(2),
        "country": rng.choice(["FR", "DE", "ES", "US"], count),
    }
).to_csv("raw/transactions.csv", index=False)
pd.DataFrame({"merchant_id": np.arange(40), "risk_score": rng.random(40).round(3)}).to_csv(
    "raw/merchants.csv", index=False
)
pd.DataFrame(
    {"account_id": np.arange(accounts), "fraud": (rng.random(accounts) < 0.1).astype(int)}
).to_csv("raw/labels.csv", index=False)
pd.DataFrame({"account_id": rng.choice(accounts, 15, replace=False)}).to_csv(
    "raw/blocklist.csv", index=False
)
pd.DataFrame(
    {"code": ["FR", "DE", "ES", "US"], "name": ["France", "Germany", "Spain", "United States"]}
).to_csv("raw/countries.csv", index=False)
pd.DataFrame({"currency": ["USD", "GBP"], "rate": [1.08, 0.86]}).to_json(
    "raw/rates.json", orient="records"
)
