"""Raw exports: daily sales per store, the store table, the managers list, weather per store
and day, and a promotions calendar."""

from pathlib import Path

import numpy as np
import polars as pl

rng = np.random.default_rng(11)
Path("raw").mkdir(exist_ok=True)
days = 120
stores = 6
store_ids = np.repeat(np.arange(1, stores + 1), days)
day = np.tile(np.arange(days), stores)
pl.DataFrame(
    {
        "store_id": store_ids,
        "day": day,
        "units": rng.poisson(50, days * stores),
        "price": rng.normal(9.5, 1.0, days * stores).round(2),
    }
).write_csv("raw/sales.csv")
pl.DataFrame(
    {
        "store_id": np.arange(1, stores + 1),
        "size_m2": rng.integers(200, 1200, stores),
        "city": ["lyon", "nice", "lille", "nantes", "metz", "brest"],
    }
).write_csv("raw/stores.csv")
pl.DataFrame(
    {"store_id": np.arange(1, stores + 1), "manager": [f"m{i}" for i in range(stores)]}
).write_csv("raw/managers.csv")
pl.DataFrame(
    {
        "store_id": store_ids,
        "day": day,
        "rain_mm": rng.exponential(2, days * stores).round(1),
    }
).write_csv("raw/weather.csv")
pl.DataFrame({"day": np.arange(0, days, 7), "promo": 1}).write_csv("raw/promotions.csv")
