"""pickle: ``pickle.dump(obj, file)`` and ``pickle.load(file)`` on named files.

A file still open after ``dump`` is fingerprinted once it is closed (at the next captured call
or when the run ends), so the recorded version is what ended up on disk.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from threadline.capture.hooks import HookSpec
from threadline.capture.hooks._common import arg
from threadline.capture.hooks._patch import Patcher

if TYPE_CHECKING:
    from threadline.capture.flow import Capture


def _install(capture: Capture, patcher: Patcher, pickle: ModuleType) -> bool:
    def dumped(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        capture.wrote(arg(args, kwargs, 0, "obj"), arg(args, kwargs, 1, "file"), hook="pickle.dump")

    def loaded(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        capture.read(result, arg(args, kwargs, 0, "file"), hook="pickle.load")

    patcher.function(pickle, "dump", "pickle.dump", dumped)
    patcher.function(pickle, "load", "pickle.load", loaded)
    return True


hook = HookSpec(name="pickle", targets={"pickle": _install}, description="pickle dump and load")
