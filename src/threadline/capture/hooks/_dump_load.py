"""One adapter for the libraries that save objects to files with ``dump`` and read them back with
``load`` (joblib, pickle, skops.io): ``dump(obj, file)`` is a write of ``obj`` to ``file``,
``load(file)`` a read of what it returns.

A file object still open after ``dump`` is fingerprinted once it is closed (at the next captured
call or when the run ends), so the recorded version is what ended up on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from threadline.capture.hooks import HookSpec
from threadline.capture.hooks._common import arg
from threadline.capture.hooks._patch import Patcher

if TYPE_CHECKING:
    from threadline.capture.recorder import Capture


def _always(module: ModuleType) -> bool:
    return True


def dump_load_hook(
    name: str,
    module: str,
    *,
    obj: str,
    file: str,
    description: str,
    supported: Callable[[ModuleType], bool] = _always,
) -> HookSpec:
    """The hook of ``module``'s ``dump(obj, file)`` and ``load(file)``.

    ``obj`` and ``file`` are the keyword names of ``dump``'s first two parameters (and ``file``
    of ``load``'s first); ``supported`` says whether the installed version can be hooked.
    """

    def install(capture: Capture, patcher: Patcher, library: ModuleType) -> bool:
        if not supported(library):
            return False

        def dumped(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
            capture.wrote(
                arg(args, kwargs, 0, obj), arg(args, kwargs, 1, file), hook=f"{module}.dump"
            )

        def loaded(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
            capture.read(result, arg(args, kwargs, 0, file), hook=f"{module}.load")

        patcher.function(library, "dump", f"{module}.dump", dumped)
        patcher.function(library, "load", f"{module}.load", loaded)
        return True

    return HookSpec(name=name, targets={module: install}, description=description)


__all__ = ["dump_load_hook"]
