"""Promote the variant with the best ROC AUC: copy its model into the registry."""

from __future__ import annotations

import joblib
import pandas as pd
from common import VARIANTS, eval_path, model_path, output_folder, paths


def main() -> None:
    out = output_folder()
    # Ties go to the first variant listed.
    auc = {v: float(pd.read_json(eval_path(out, v), typ="series")["roc_auc"]) for v in VARIANTS}
    best = max(VARIANTS, key=lambda v: auc[v])
    target = paths(out)["registry"]
    target.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(joblib.load(model_path(out, best)), target)
    print(best)


if __name__ == "__main__":
    main()
