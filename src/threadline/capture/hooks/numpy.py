"""numpy: ``load``/``save``/``savez``/``savez_compressed``/``loadtxt``/``genfromtxt``/``savetxt``,
and lineage through the functions that combine arrays (``hstack``, ``where``, ``np.c_``…).

``np.save("x", a)`` writes ``x.npy`` and ``np.savez("x", …)`` writes ``x.npz``; the recorded path
is the one numpy actually wrote.  Arrays read lazily from an ``.npz`` archive share its lineage.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from threadline.capture.hooks import HookSpec
from threadline.capture.hooks._common import arg, operands, version_tuple
from threadline.capture.hooks._patch import Patcher

if TYPE_CHECKING:
    from threadline.capture.recorder import Capture


#: Functions whose result is computed from the arrays they are given.  numpy's array methods
#: and operators (``a.round(2)``, ``a * 2``) are compiled and cannot be followed: their
#: results have no known origin (see :mod:`threadline.capture.tracking`).  ``array`` and
#: ``asarray`` are left alone: libraries call them all the time, and ``np.asarray(frame)``
#: is followed through the frame's ``__array__``.
FUNCTIONS: Final = (
    "concatenate",
    "hstack",
    "vstack",
    "column_stack",
    "stack",
    "dstack",
    "append",
    "where",
    "select",
    "clip",
    "round",
    "around",
    "nan_to_num",
    "copy",
)


def _with_suffix(target: Any, suffix: str) -> Any:
    if isinstance(target, (str, os.PathLike)):
        text = os.fspath(target)
        if isinstance(text, str) and not text.endswith(suffix):
            return text + suffix
    return target


def _install(capture: Capture, patcher: Patcher, np: ModuleType) -> bool:
    if version_tuple(getattr(np, "__version__", "0")) < (1, 22):
        return False

    def loaded(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        capture.read(result, arg(args, kwargs, 0, "file", "fname"), hook="numpy.load")

    def saved(suffix: str) -> Any:
        def handler(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
            target = _with_suffix(arg(args, kwargs, 0, "file", "fname"), suffix)
            values = (
                *args[1:],
                *(
                    v
                    for k, v in kwargs.items()
                    if k not in ("file", "fname", "allow_pickle", "fix_imports")
                ),
            )
            data: Any = values[0] if len(values) == 1 else tuple(values)
            capture.wrote(data, target, hook="numpy.save")

        return handler

    patcher.function(np, "load", "numpy.load", loaded)
    patcher.function(np, "loadtxt", "numpy.loadtxt", loaded)
    patcher.function(np, "genfromtxt", "numpy.genfromtxt", loaded)
    patcher.function(np, "save", "numpy.save", saved(".npy"))
    patcher.function(np, "savez", "numpy.savez", saved(".npz"))
    patcher.function(np, "savez_compressed", "numpy.savez_compressed", saved(".npz"))
    patcher.function(np, "savetxt", "numpy.savetxt", saved(""))
    npz: Any = importlib.import_module("numpy.lib.npyio").NpzFile

    def member(archive: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        capture.flow.derive(result, (archive,))

    patcher.flow(npz, "__getitem__", member)

    def combined(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        found, _ = operands(args, kwargs)
        if found:
            capture.flow.derive(result, found, operands=True)

    for name in FUNCTIONS:
        patcher.operation_function(np, name, combined)
    concatenator = next(
        (c for c in type(np.c_).__mro__ if "__getitem__" in vars(c)), None
    )  # ``np.c_[a, b]``, ``np.r_[a, b]``
    if concatenator is not None:
        patcher.operation(concatenator, "__getitem__", combined)
    return True


hook = HookSpec(name="numpy", targets={"numpy": _install}, description="numpy load and save")
