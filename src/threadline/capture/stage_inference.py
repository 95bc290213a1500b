"""Which stage an operation belongs to, inferred from what it wrote and what it read.

Pure functions over kinds and stages: the recorder asks them and supplies the facts (the kind
of the artifact written, the kinds of its sources, whether its inputs were written by an
earlier recorded run).  A stage the user set (``threadline run --stage``, or ``stage=`` of an
enclosing ``threadline.run``) overrides the inferred one, except for ``fit`` (always
training) and ``evaluate`` (always evaluation).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

#: Stage of the script run when its operations span several: the first present wins.
STAGE_PRIORITY: Final = (
    "training",
    "evaluation",
    "scoring",
    "features",
    "registration",
    "ingestion",
    "deployment",
)

#: The stage of fitting a model, whatever the enclosing run says.
TRAINING: Final = "training"
#: The stage of computing metrics, whatever the enclosing run says.
EVALUATION: Final = "evaluation"

#: The stage of a write, by the kind of artifact written (a model's: :func:`write_stage`).
_WRITE_STAGES: Final = {
    "predictions": "scoring",
    "evaluation": "evaluation",
    "features": "features",
}


def script_stage(stages: Collection[str]) -> str | None:
    """The stage of the script's own run: the first of :data:`STAGE_PRIORITY` it performed."""
    for stage in STAGE_PRIORITY:
        if stage in stages:
            return stage
    return None


def write_kind(
    *, model: bool, source_kinds: Collection[str], row_kind: str | None, precise: bool = True
) -> str:
    """The kind of artifact a write produces, from what was written and where it came from.

    ``source_kinds`` are the kinds of the written object's upstream artifacts, ``row_kind`` the
    kind of the artifact its rows are aligned with (None when they align with nothing known).
    """
    if model:
        return "model"
    if not precise and row_kind is None and "evaluation" in source_kinds:
        # Numbers of unknown origin, aligned with no input's rows, written after metrics
        # were computed: a report of those metrics (``pd.Series(metrics).to_json(…)``).
        return "evaluation"
    if row_kind == "predictions" or "predictions" in source_kinds:
        return "predictions"
    if "evaluation" in source_kinds and set(source_kinds) <= {
        "evaluation",
        "predictions",
        "model",
    }:
        return "evaluation"
    if "features" in source_kinds:
        return "features"
    return "dataset"


def write_stage(kind: str, override: str | None, *, new_model: bool = False) -> str | None:
    """The stage of a write of a ``kind`` artifact; None for plain data (see :func:`data_stage`).

    Saving a model is *training* when it is the first save of a model version fitted in the
    same process (``new_model``): the output of the fit.  Saving any other model version (one
    loaded from a file, or copied again to another place) is *registration*: putting an
    existing version where it is kept and served from, as the demo's ``register.py`` does.
    """
    if override:
        return override
    if kind == "model":
        return TRAINING if new_model else "registration"
    return _WRITE_STAGES.get(kind)


def data_stage(from_recorded_data: bool) -> str:
    """The stage of writing plain data: derived from data an earlier recorded run wrote, it is
    feature engineering; derived only from raw files, ingestion."""
    return "features" if from_recorded_data else "ingestion"


def feature_stage(override: str | None) -> str:
    """The stage of promoting a matrix to a features version, or of a ``transform``."""
    return override or "features"


def prediction_stage(override: str | None, *, loaded_model: bool) -> str:
    """Predictions of a model loaded from a file score; of a model fitted here, evaluate it."""
    if override is not None and override in ("scoring", "evaluation"):
        return override
    return "scoring" if loaded_model else "evaluation"


def registration_stage(override: str | None) -> str:
    """The stage of logging or registering a model version in a registry."""
    return override or "registration"


__all__ = [
    "EVALUATION",
    "STAGE_PRIORITY",
    "TRAINING",
    "data_stage",
    "feature_stage",
    "prediction_stage",
    "registration_stage",
    "script_stage",
    "write_kind",
    "write_stage",
]
