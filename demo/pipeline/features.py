"""Log-scale the area columns; hold out every fifth patient as the batch to score."""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import TARGET, output_folder, paths


def main() -> None:
    p = paths(output_folder())
    joined = pd.read_parquet(p["clean"])
    for column in [c for c in joined.columns if "area" in c]:
        joined[column] = np.log1p(joined[column])
    holdout = joined.index % 5 == 0
    p["train"].parent.mkdir(parents=True, exist_ok=True)
    joined[~holdout].to_parquet(p["train"], index=False)
    joined[holdout].drop(columns=[TARGET]).to_parquet(p["score"], index=False)


if __name__ == "__main__":
    main()
