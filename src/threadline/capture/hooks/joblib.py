"""joblib: ``dump`` and ``load`` of models and data (``joblib.dump(model, "model.joblib")``)."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from threadline.capture.hooks import HookSpec
from threadline.capture.hooks._common import arg, version_tuple
from threadline.capture.hooks._patch import Patcher

if TYPE_CHECKING:
    from threadline.capture.flow import Capture


def _install(capture: Capture, patcher: Patcher, joblib: ModuleType) -> bool:
    if version_tuple(getattr(joblib, "__version__", "0")) < (1, 0):
        return False

    def dumped(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        capture.wrote(
            arg(args, kwargs, 0, "value"), arg(args, kwargs, 1, "filename"), hook="joblib.dump"
        )

    def loaded(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        capture.read(result, arg(args, kwargs, 0, "filename"), hook="joblib.load")

    patcher.function(joblib, "dump", "joblib.dump", dumped)
    patcher.function(joblib, "load", "joblib.load", loaded)
    return True


hook = HookSpec(name="joblib", targets={"joblib": _install}, description="joblib dump and load")
