"""Capture hooks: one small adapter per library, all behind one hook spec.

A hook is a :class:`HookSpec`: a name and, per module of its library, an ``install`` function
that patches that module once it is imported.  The built-in adapters (pandas, polars, pyarrow,
numpy, scikit-learn, joblib, pickle, skops, mlflow) are registered exactly as third parties
register theirs, in the ``threadline.hooks`` entry-point group::

    [project.entry-points."threadline.hooks"]
    mylib = "mylib_threadline:hook"          # a HookSpec

``install(capture, patcher, module)`` wraps what it needs through ``patcher`` (so that
:meth:`Hooks.uninstall` can restore every original) and calls the
:class:`~threadline.capture.recorder.Capture` methods (``read``, ``wrote``, ``fitted``,
``transformed``, ``predicted``, ``metric``, ``registered``) from its handlers.  It returns
``False`` when the installed version is one it does not support; the hook is then skipped.
A library that is never imported is never touched: adapters import nothing up front.

``THREADLINE_DEBUG=1`` (the ``debug`` setting) logs every hook call to stderr.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Final

from threadline.capture.boundary import capture_boundary, report
from threadline.capture.hooks._patch import Patcher, PostImportHooks, set_debug, set_enabled

if TYPE_CHECKING:
    from threadline.capture.recorder import Capture

Install = Callable[["Capture", Patcher, ModuleType], bool]

GROUP: Final = "threadline.hooks"

#: The built-in adapters, loaded even when the package metadata lists no entry points
#: (an editable install made before they were declared).
DEFAULT_HOOKS: Final = (
    "threadline.capture.hooks.pandas:hook",
    "threadline.capture.hooks.polars:hook",
    "threadline.capture.hooks.pyarrow:hook",
    "threadline.capture.hooks.numpy:hook",
    "threadline.capture.hooks.sklearn:hook",
    "threadline.capture.hooks.joblib:hook",
    "threadline.capture.hooks.pickle:hook",
    "threadline.capture.hooks.skops:hook",
    "threadline.capture.hooks.mlflow:hook",
)


@dataclass(frozen=True)
class HookSpec:
    """What a capture adapter provides (the value of a ``threadline.hooks`` entry point).

    ``targets`` maps a module name to the function that patches it once it is imported, e.g.
    ``{"pandas": install_readers_and_writers}``.
    """

    name: str
    targets: Mapping[str, Install] = field(default_factory=dict)
    description: str = ""


def _load(reference: str) -> HookSpec | None:
    module_name, _, attribute = reference.partition(":")
    with capture_boundary(f"hooks.load:{module_name}"):
        spec = getattr(importlib.import_module(module_name), attribute or "hook")
        if isinstance(spec, HookSpec):
            return spec
        report(f"hooks.load:{module_name}", TypeError(f"{reference} is not a HookSpec"))
    return None


def available() -> list[HookSpec]:
    """Every registered hook: entry points first, then built-ins not already registered."""
    found: dict[str, HookSpec] = {}
    seen: set[str] = set()
    for _name, reference in registered():
        seen.add(reference)
        spec = _load(reference)
        if spec is not None and spec.name not in found:
            found[spec.name] = spec
    for reference in DEFAULT_HOOKS:
        if reference in seen:
            continue
        spec = _load(reference)
        if spec is not None and spec.name not in found:
            found[spec.name] = spec
    return list(found.values())


def registered() -> list[tuple[str, str]]:
    """The ``threadline.hooks`` entry points installed, as ``(name, "module:attribute")``,
    sorted by name.

    Scanning every installed distribution's metadata costs a captured process about 20 ms
    at start, so the answer is kept in the user's cache folder under a key made of the import
    path and the metadata folders on it with their times: installing, upgrading or removing
    a package changes the key.
    """
    cache = _cache_file()
    if cache is not None:
        with (
            contextlib.suppress(OSError, ValueError, TypeError),
            open(cache, encoding="utf-8") as handle,
        ):
            return [(str(name), str(value)) for name, value in json.load(handle)]
    from importlib.metadata import entry_points

    found = sorted((ep.name, ep.value) for ep in entry_points(group=GROUP))
    if cache is not None:
        with contextlib.suppress(OSError):
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            partial = f"{cache}.{os.getpid()}"
            with open(partial, "w", encoding="utf-8") as handle:
                json.dump(found, handle)
            os.replace(partial, cache)
    return found


def _cache_file() -> str | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    import blake3  # loaded already: node ids are BLAKE3 digests

    digest = blake3.blake3()
    for entry in sys.path:
        digest.update(f"{entry}\0{_distributions_in(entry or os.curdir)}\n".encode())
    return os.path.join(base, "threadline", f"hooks-{digest.hexdigest(16)}.json")


def _distributions_in(entry: str) -> str:
    """What of ``entry`` decides the distributions found there: the metadata folders it
    holds and their times (not the folder's own time: a script's folder, first on the path,
    changes with every file the script writes), or a zip file's time."""
    try:
        with os.scandir(entry) as listing:
            return ";".join(
                sorted(
                    f"{item.name}@{item.stat().st_mtime_ns}"
                    for item in listing
                    if item.name.endswith((".dist-info", ".egg-info"))
                )
            )
    except NotADirectoryError:
        with contextlib.suppress(OSError):
            return f"file@{os.stat(entry).st_mtime_ns}"
    except OSError:
        pass
    return "-"


class Hooks:
    """The hooks installed for one capture session."""

    def __init__(self, capture: Capture, *, debug: bool = False) -> None:
        self.capture = capture
        self.patcher = Patcher()
        self.imports = PostImportHooks()
        self.installed: list[str] = []
        self.skipped: list[str] = []
        set_debug(debug)
        self._debug = debug

    def install(self, specs: list[HookSpec] | None = None) -> None:
        set_enabled(True)
        for spec in specs if specs is not None else available():
            for module_name, install in spec.targets.items():
                self.imports.watch([module_name], self._installer(spec.name, module_name, install))

    def _installer(
        self, name: str, module_name: str, install: Install
    ) -> Callable[[ModuleType], None]:
        label = f"{name}:{module_name}"

        def run(module: ModuleType) -> None:
            ok = False
            with capture_boundary(f"hooks.install:{label}"):
                ok = bool(install(self.capture, self.patcher, module))
            (self.installed if ok else self.skipped).append(label)
            if self._debug:
                state = "installed" if ok else "skipped (unsupported version)"
                print(f"threadline: hook {label} {state}", file=sys.stderr)

        return run

    def uninstall(self) -> None:
        self.imports.close()
        self.patcher.undo()
        set_enabled(False)


__all__ = ["DEFAULT_HOOKS", "GROUP", "HookSpec", "Hooks", "Install", "available", "registered"]
