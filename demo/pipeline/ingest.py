"""Join the register and the lab results on patient id; drop direct identifiers and gaps."""

from __future__ import annotations

import pandas as pd
from common import output_folder, paths


def main() -> None:
    p = paths(output_folder())
    register = pd.read_csv(p["patients"])
    lab = pd.read_json(p["measurements"], orient="records", lines=True)
    joined = register.merge(lab, on="patient_id", how="inner").drop(columns=["name", "email"])
    joined = joined.dropna().sort_values("patient_id").reset_index(drop=True)
    p["clean"].parent.mkdir(parents=True, exist_ok=True)
    joined.to_parquet(p["clean"], index=False)


if __name__ == "__main__":
    main()
