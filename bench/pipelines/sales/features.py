"""Weekly features per store (polars): sales joined to the store table and the promotions,
aggregated per week.  The weather is stacked beside the sales and then dropped again (not used);
the managers list feeds only a printed report."""

from pathlib import Path

import polars as pl

sales = pl.read_csv("raw/sales.csv")
stores = pl.read_csv("raw/stores.csv")
promotions = pl.scan_csv("raw/promotions.csv")
weather = pl.read_csv("raw/weather.csv")
managers = pl.read_csv("raw/managers.csv")

wide = sales.hstack(weather.select(pl.col("rain_mm")))
daily = wide.drop("rain_mm").with_columns((pl.col("units") * pl.col("price")).alias("revenue"))
daily = daily.join(promotions.collect(), on="day", how="left").with_columns(
    pl.col("promo").fill_null(0)
)
weekly = (
    daily.with_columns((pl.col("day") // 7).alias("week"))
    .group_by(["store_id", "week"])
    .agg(
        pl.col("units").sum(),
        pl.col("revenue").sum(),
        pl.col("promo").max(),
        pl.col("price").mean().alias("avg_price"),
    )
    .join(stores.select(["store_id", "size_m2"]), on="store_id")
    .with_columns((pl.col("revenue") / pl.col("size_m2")).alias("revenue_per_m2"))
    .sort(["store_id", "week"])
)
weekly = weekly.with_columns(
    pl.col("units").shift(1).over("store_id").alias("units_last_week")
).filter(pl.col("units_last_week").is_not_null())

report = stores.join(managers, on="store_id").select(["city", "manager"])
print(report)
pivot = weekly.pivot(on="store_id", index="week", values="units", aggregate_function="sum")
print(pivot.head(3))
Path("features").mkdir(exist_ok=True)
weekly.write_parquet("features/weekly.parquet")
pivot.write_csv("features/units_by_week.csv")
