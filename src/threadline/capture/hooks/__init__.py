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
A library that is never imported is never touched: adapters import nothing up front, and
an adapter module is itself imported only with its library once the :func:`catalog` of
the modules each hook patches is remembered (the first captured process on a machine, or
after a package is installed, builds it).

``THREADLINE_DEBUG=1`` (the ``debug`` setting) logs every hook call to stderr.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, Final

from threadline._version import __version__
from threadline.capture.boundary import capture_boundary, report
from threadline.capture.cache_folder import cache_folder
from threadline.capture.hooks._patch import (
    Patcher,
    PostImportHooks,
    set_debug,
    set_enabled,
    set_flow_budget,
    set_hook_cost,
)
from threadline.capture.hooks.flow_budget import GRACE_SECONDS, FlowBudget
from threadline.capture.hooks.hook_cost import HookCost
from threadline.frozen import frozen_record

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


@frozen_record
class HookSpec:
    """What a capture adapter provides (the value of a ``threadline.hooks`` entry point).

    ``targets`` maps a module name to the function that patches it once it is imported, e.g.
    ``{"pandas": install_readers_and_writers}``.
    """

    name: str
    targets: Mapping[str, Install] = MappingProxyType({})
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
    return [spec for _reference, spec in _available()[0]]


def _available() -> tuple[list[tuple[str, HookSpec]], bool]:
    """The hooks with their references, and whether every reference loaded."""
    found: dict[str, tuple[str, HookSpec]] = {}
    seen: set[str] = set()
    complete = True
    for reference in [ref for _name, ref in registered()] + list(DEFAULT_HOOKS):
        if reference in seen:
            continue
        seen.add(reference)
        spec = _load(reference)
        complete = complete and spec is not None
        if spec is not None and spec.name not in found:
            found[spec.name] = (reference, spec)
    return list(found.values()), complete


@frozen_record
class HookEntry:
    """What a captured process needs to know of a hook before its library is imported: its
    name, where its :class:`HookSpec` is, and the modules it patches."""

    name: str
    reference: str
    targets: tuple[str, ...]


#: The catalog this process was given (:func:`use_catalog`), instead of looking it up.
_given: list[HookEntry] | None = None


def use_catalog(rows: Sequence[Sequence[Any]]) -> None:
    """Take ``rows`` (``[name, reference, [target, …]]`` each) as this process's catalog:
    ``threadline run``'s bootstrap remembers it with the watched modules, under a stamp of
    the import path and of threadline's own adapters (:mod:`threadline.capture.bootstrap`)."""
    global _given
    _given = [
        HookEntry(str(name), str(ref), tuple(str(t) for t in targets))
        for name, ref, targets in rows
    ]


def catalog() -> list[HookEntry]:
    """:func:`available` as entries, without importing the adapters: remembered in the cache
    folder next to :func:`registered`'s answer, under a key that also covers threadline's own
    adapters (its version and their files), so that a captured process imports an adapter
    only when the library it patches is imported (9 adapters cost ~3 ms at every start)."""
    if _given is not None:
        return list(_given)
    cache = _cache_file("catalog", _builtin_key())
    if cache is not None:
        with (
            contextlib.suppress(OSError, ValueError, TypeError),
            open(cache, encoding="utf-8") as handle,
        ):
            return [
                HookEntry(str(name), str(reference), tuple(str(t) for t in targets))
                for name, reference, targets in json.load(handle)
            ]
    specs, complete = _available()
    entries = [HookEntry(spec.name, reference, tuple(spec.targets)) for reference, spec in specs]
    if complete:  # an adapter that failed to load is tried (and reported) again next time
        _write_cache(cache, [[e.name, e.reference, list(e.targets)] for e in entries])
    return entries


def _builtin_key() -> str:
    # An edited built-in adapter (an editable install) may patch other modules.
    folder = os.path.dirname(os.path.abspath(__file__))
    stamps = []
    with contextlib.suppress(OSError), os.scandir(folder) as listing:
        stamps = sorted(
            f"{e.name}@{e.stat().st_mtime_ns}" for e in listing if e.name.endswith(".py")
        )
    return f"{__version__};{';'.join(stamps)}"


def registered() -> list[tuple[str, str]]:
    """The ``threadline.hooks`` entry points installed, as ``(name, "module:attribute")``,
    sorted by name.

    Scanning every installed distribution's metadata costs a captured process about 20 ms
    at start, so the answer is kept in the user's cache folder under a key made of the import
    path and the metadata folders on it with their times: installing, upgrading or removing
    a package changes the key.
    """
    cache = _cache_file("hooks")
    if cache is not None:
        with (
            contextlib.suppress(OSError, ValueError, TypeError),
            open(cache, encoding="utf-8") as handle,
        ):
            return [(str(name), str(value)) for name, value in json.load(handle)]
    from importlib.metadata import entry_points

    found = sorted((ep.name, ep.value) for ep in entry_points(group=GROUP))
    _write_cache(cache, found)
    return found


def _write_cache(cache: str | None, content: object) -> None:
    if cache is None:
        return
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        partial = f"{cache}.{os.getpid()}"
        with open(partial, "w", encoding="utf-8") as handle:
            json.dump(content, handle)
        os.replace(partial, cache)


def _cache_file(kind: str, extra: str = "") -> str | None:
    """The cache file of ``kind`` for this import path (and ``extra``, what else decides it)."""
    folder = cache_folder()
    if folder is None:
        return None
    import blake3  # loaded already: node ids are BLAKE3 digests

    digest = blake3.blake3()
    for entry in sys.path:
        digest.update(f"{entry}\0{_distributions_in(entry or os.curdir)}\n".encode())
    digest.update(extra.encode())
    key = digest.hexdigest(16)
    return os.path.join(folder, f"{kind}-{key}.json")


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

    def __init__(
        self,
        capture: Capture,
        *,
        debug: bool = False,
        flow_budget: float | None = None,
        flow_grace: float = GRACE_SECONDS,
    ) -> None:
        """``flow_budget``: the share of the process's time following data through operations
        may cost before it stops, once it has cost ``flow_grace`` seconds
        (:mod:`~threadline.capture.hooks.flow_budget`); None or 1: always follow."""
        self.capture = capture
        self.patcher = Patcher()
        self.imports = PostImportHooks()
        self.installed: list[str] = []
        self.skipped: list[str] = []
        set_debug(debug)
        self._debug = debug
        self.flow_budget = FlowBudget(
            flow_budget if flow_budget is not None and flow_budget < 1 else None,
            time.perf_counter(),  # the session is installed as soon as it is made
            grace=flow_grace,
            on_spent=self._stop_following,
        )
        #: What this session's hooked calls cost the program (the run facet's ``hookCost``).
        self.cost = HookCost()

    def install(self, specs: list[HookSpec] | None = None) -> None:
        set_enabled(True)
        set_flow_budget(self.flow_budget)
        set_hook_cost(self.cost)
        if specs is None:
            for entry in catalog():
                for module_name in entry.targets:
                    self.imports.watch([module_name], self._loader(entry, module_name))
            return
        for spec in specs:
            for module_name, install in spec.targets.items():
                self.imports.watch([module_name], self._installer(spec.name, module_name, install))

    def _loader(self, entry: HookEntry, module_name: str) -> Callable[[ModuleType], None]:
        """Import the adapter of ``entry`` once ``module_name`` is imported, then install it."""

        def run(module: ModuleType) -> None:
            spec = _load(entry.reference)
            install = spec.targets.get(module_name) if spec is not None else None
            if install is None:
                self.skipped.append(f"{entry.name}:{module_name}")
                return
            self._installer(entry.name, module_name, install)(module)

        return run

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

    def _stop_following(self, after: float, spent: float) -> None:
        self.patcher.undo_following()
        self.capture.flow.stop_following()
        if self._debug:
            print(
                f"threadline: following data through operations cost {spent:.2f} s in "
                f"{after:.1f} s; lineage from now on is every file read",
                file=sys.stderr,
            )

    def uninstall(self) -> None:
        self.imports.close()
        self.patcher.undo()
        set_enabled(False)


__all__ = [
    "DEFAULT_HOOKS",
    "GROUP",
    "HookEntry",
    "HookSpec",
    "Hooks",
    "Install",
    "available",
    "catalog",
    "registered",
    "use_catalog",
]
