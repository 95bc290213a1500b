"""What the stage scripts share: where each file lives and the two model variants.

Every stage reads and writes files under one output folder (the first argument of each
script), so the lineage of every artifact is a question of which files fed which.  Outputs are
byte-for-byte deterministic for a given set of installed packages: fixed float formatting,
sorted rows, fixed seeds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

VARIANTS: dict[str, dict[str, Any]] = {
    "logreg": {"model": "logistic_regression", "C": 0.5, "max_iter": 500},
    "forest": {"model": "random_forest", "n_estimators": 60, "max_depth": 5},
}
TARGET = "malignant"


def paths(out: Path) -> dict[str, Path]:
    return {
        "patients": out / "raw" / "patients.csv",
        "measurements": out / "raw" / "measurements.json",
        "clean": out / "clean" / "joined.parquet",
        "train": out / "features" / "train.parquet",
        "score": out / "features" / "score.parquet",
        "registry": out / "registry" / "diagnosis-model.joblib",
        "predictions": out / "predictions" / "batch.csv",
    }


def model_path(out: Path, variant: str) -> Path:
    return out / "models" / f"{variant}.joblib"


def eval_path(out: Path, variant: str) -> Path:
    return out / "eval" / f"{variant}.json"


def output_folder(argv: list[str] | None = None) -> Path:
    """The output folder: the script's first argument (default ``demo-output``)."""
    args = sys.argv[1:] if argv is None else argv
    return Path(args[0] if args else "demo-output")


def variant_argument(argv: list[str] | None = None) -> str:
    """The model variant a training or evaluation script works on (its second argument)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[1] not in VARIANTS:
        raise SystemExit(f"usage: OUT VARIANT, with VARIANT one of {', '.join(VARIANTS)}")
    return args[1]
