"""joblib: ``dump`` and ``load`` of models and data (``joblib.dump(model, "model.joblib")``)."""

from __future__ import annotations

from types import ModuleType

from threadline.capture.hooks._common import version_tuple
from threadline.capture.hooks._dump_load import dump_load_hook


def _supported(joblib: ModuleType) -> bool:
    return version_tuple(getattr(joblib, "__version__", "0")) >= (1, 0)


hook = dump_load_hook(
    "joblib",
    "joblib",
    obj="value",
    file="filename",
    supported=_supported,
    description="joblib dump and load",
)
