"""Per-account features: spend per category (pivot_table), merchant risk (merge + groupby),
blocklisted accounts removed (isin); a debug frame concatenated beside the features is dropped
before writing.  Country names and exchange rates only feed printed summaries."""

from pathlib import Path

import pandas as pd

transactions = pd.read_csv("raw/transactions.csv")
merchants = pd.read_csv("raw/merchants.csv")
blocklist = pd.read_csv("raw/blocklist.csv")
countries = pd.read_csv("raw/countries.csv")
rates = pd.read_json("raw/rates.json")

spend = transactions.pivot_table(
    index="account_id", columns="category", values="amount", aggfunc="sum", fill_value=0
)
spend.columns = [f"spend_{c}" for c in spend.columns]
risk = (
    transactions.merge(merchants, on="merchant_id")
    .groupby("account_id")
    .agg(max_risk=("risk_score", "max"), mean_risk=("risk_score", "mean"), n=("amount", "size"))
)
debug = transactions.groupby("account_id")[["country"]].first()
features = pd.concat([spend, risk, debug], axis=1)
features = features.drop(columns=["country"])
features = features.loc[~features.index.isin(blocklist["account_id"])]
features["log_n"] = features["n"].clip(lower=1).pipe(lambda s: s.rank(pct=True))
features = features.reset_index()

by_country = transactions.merge(countries, left_on="country", right_on="code")
print(by_country.groupby("name")["amount"].sum().round(0))
print(rates.set_index("currency")["rate"].to_dict())
Path("features").mkdir(exist_ok=True)
features.to_parquet("features/accounts.parquet", index=False)
