"""skops: ``skops.io.dump`` and ``skops.io.load`` of models."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from threadline.capture.hooks import HookSpec
from threadline.capture.hooks._common import arg
from threadline.capture.hooks._patch import Patcher

if TYPE_CHECKING:
    from threadline.capture.flow import Capture


def _install(capture: Capture, patcher: Patcher, sio: ModuleType) -> bool:
    if not callable(getattr(sio, "dump", None)) or not callable(getattr(sio, "load", None)):
        return False

    def dumped(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        capture.wrote(
            arg(args, kwargs, 0, "obj"), arg(args, kwargs, 1, "file"), hook="skops.io.dump"
        )

    def loaded(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        capture.read(result, arg(args, kwargs, 0, "file"), hook="skops.io.load")

    patcher.function(sio, "dump", "skops.io.dump", dumped)
    patcher.function(sio, "load", "skops.io.load", loaded)
    return True


hook = HookSpec(name="skops", targets={"skops.io": _install}, description="skops.io dump and load")
