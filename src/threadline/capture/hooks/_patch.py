"""Safe monkey-patching: wrappers that never change what the user's code returns or raises.

Every wrapper calls the original first and returns its result (or lets its exception pass,
untouched).  The capture work runs afterwards inside
:func:`~threadline.capture.boundary.capture_boundary`, so a failing hook is reported once and
the user's program carries on.

A thread-local depth counter makes only the *outermost* hooked call record: ``pd.read_parquet``
calls ``pyarrow.parquet.read_table`` and ``Pipeline.fit`` calls each step's ``fit_transform``;
those inner calls run bare.  Capture code itself runs at depth > 0, so nothing it calls records.

:class:`PostImportHooks` runs a callback right after a watched module finishes executing, so
``import pandas as pd`` hands the user an already-patched module.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.machinery
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FunctionType, ModuleType
from typing import TYPE_CHECKING, Any, Final

from threadline.capture.boundary import capture_boundary, report
from threadline.capture.hooks.flow_budget import CHECK_EVERY, FlowBudget
from threadline.capture.hooks.hook_cost import HookCost
from threadline.collector import uncounted_objects

#: ``handler(self_or_none, args, kwargs, result)``; runs after a successful call.
Handler = Callable[[Any, tuple[Any, ...], dict[str, Any], Any], None]

_local = threading.local()
_debug = False
_enabled = True
_clock: Final = time.perf_counter
#: The cost of following data through operations, and what it may reach (see flow_budget).
_budget = FlowBudget(None, _clock())
#: False once the budget is spent: the wrappers that follow data pass calls straight through.
_following = True
#: What the handlers of hooked calls take (see hook_cost).
_cost = HookCost()

#: Marks a wrapper so it is never wrapped twice and can be unwrapped.
WRAPPED_ATTR = "__threadline_wrapped__"


def _disguised(wrapper: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    """``wrapper`` wearing ``original``'s name, docstring and attributes, as ``functools.wraps``
    dresses it, and marked as ours (:data:`WRAPPED_ATTR`).

    A hooked library's import wraps thousands of methods (pandas' ~2,900), so for the common
    case, a plain function, the attributes are copied directly: a third of what
    ``functools.update_wrapper`` costs (~1.3 against ~3.2 ms per 930 of pandas' methods).
    """
    if type(original) is FunctionType and type(wrapper) is FunctionType:
        wrapper.__module__ = original.__module__
        wrapper.__name__ = original.__name__
        wrapper.__qualname__ = original.__qualname__
        wrapper.__doc__ = original.__doc__
        wrapper.__annotations__ = original.__annotations__
        if original.__dict__:
            wrapper.__dict__.update(original.__dict__)
        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    else:
        functools.update_wrapper(wrapper, original)
    setattr(wrapper, WRAPPED_ATTR, original)
    return wrapper


def set_debug(value: bool) -> None:
    """Log every hook call to stderr (the ``debug`` setting, ``THREADLINE_DEBUG=1``)."""
    global _debug
    _debug = value


def set_enabled(value: bool) -> None:
    """Turn every wrapper into a bare pass-through (used after ``fork`` and on uninstall)."""
    global _enabled
    _enabled = value


def set_flow_budget(budget: FlowBudget) -> None:
    """Account the cost of following data to ``budget`` from now on, and follow again."""
    global _budget, _following
    _budget = budget
    _following = True


def flow_budget() -> FlowBudget:
    """The budget following data is accounted to."""
    return _budget


def set_hook_cost(cost: HookCost) -> None:
    """Account what the hooks' handlers take to ``cost`` from now on."""
    global _cost
    _cost = cost


def hook_cost() -> HookCost:
    """What the hooks' handlers are accounted to."""
    return _cost


_stopping = threading.Lock()


def _stop_following_if_over(budget: FlowBudget) -> None:
    """Stop following once ``budget`` is spent (threads that find it spent together: once)."""
    global _following
    now = _clock()
    if budget is not _budget or not budget.over(now):
        return
    with _stopping:
        if budget.over(now):  # not stopped by another thread meanwhile
            _following = False
            with capture_boundary("hooks.flow_budget"):
                budget.stop(now)


def depth() -> int:
    value: int = getattr(_local, "depth", 0)
    return value


class suspended:
    """Within this block hooked calls run bare (capture code, meta-estimator internals)."""

    __slots__ = ()

    def __enter__(self) -> None:
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _local.depth -= 1


def active() -> bool:
    """True when a hooked call made now should record (enabled and outermost)."""
    return _enabled and not getattr(_local, "depth", 0)


#: Calls made from inside these libraries are their own business (``LabelEncoder`` inside a
#: metric, ``pyarrow`` inside ``pd.read_parquet``, ``pickle`` inside ``mlflow.log_model``): only
#: calls from the user's code record.
LIBRARIES: Final = frozenset(
    {
        "sklearn",
        "pandas",
        "numpy",
        "polars",
        "pyarrow",
        "scipy",
        "joblib",
        "skops",
        "mlflow",
        "threadline",
        "cloudpickle",
        "IPython",
    }
)


def from_library(level: int) -> bool:
    """True when the code calling a hooked function belongs to a hooked library."""
    try:
        frame = sys._getframe(level + 1)
    except ValueError:
        return False
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name != __name__:
            return isinstance(name, str) and name.partition(".")[0] in LIBRARIES
        frame = frame.f_back  # type: ignore[assignment]
    return False


#: Code that uses a frame's values without taking them anywhere the hooks cannot follow: the
#: frame libraries themselves (their results are followed) and display.
FOLLOWED: Final = frozenset(
    {"pandas", "polars", "threadline", "IPython", "matplotlib", "seaborn", "rich", "tabulate"}
)


def caller_package(level: int) -> str:
    """Top-level package of the code ``level`` frames above the function asking."""
    try:
        frame = sys._getframe(level + 1)
    except ValueError:
        return ""
    while frame.f_globals.get("__name__") == __name__ and frame.f_back is not None:
        frame = frame.f_back  # our own wrappers are not the caller
    name = frame.f_globals.get("__name__", "")
    return name.partition(".")[0] if isinstance(name, str) else ""


def _handle(
    where: str,
    handler: Handler,
    owner: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    result: Any,
) -> None:
    started = time.perf_counter()
    _local.capturing = getattr(_local, "capturing", 0) + 1
    try:
        with capture_boundary(where):
            handler(owner, args, kwargs, result)
    finally:
        _local.capturing -= 1
        spent = time.perf_counter() - started
        _cost.add(spent)
        if _debug:
            # What capture added to the call, so a slow operation's cost can be told apart
            # from the library's own.
            print(f"threadline: hook {where} ({spent * 1000:.1f} ms of capture)", file=sys.stderr)


def call_hooked(
    original: Callable[..., Any],
    where: str,
    handler: Handler,
    owner: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Call ``original``; if this is the outermost hooked call, hand the result to ``handler``."""
    if not _enabled or depth() or from_library(1):
        return original(*args, **kwargs)
    _local.depth = 1
    try:
        result = original(*args, **kwargs)
        _handle(where, handler, owner, args, kwargs, result)
        return result
    finally:
        _local.depth = 0


def hook_function(original: Callable[..., Any], where: str, handler: Handler) -> Callable[..., Any]:
    """A plain-function wrapper: ``handler(None, args, kwargs, result)``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return call_hooked(original, where, handler, None, args, kwargs)

    return _disguised(wrapper, original)


def hook_method(original: Callable[..., Any], where: str, handler: Handler) -> Callable[..., Any]:
    """A method wrapper (stays a function, so it binds): ``handler(self, args, kwargs, result)``."""

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _enabled or depth() or from_library(0):
            return original(self, *args, **kwargs)
        _local.depth = 1
        try:
            result = original(self, *args, **kwargs)
            _handle(where, handler, self, args, kwargs, result)
            return result
        finally:
            _local.depth = 0

    return _disguised(wrapper, original)


def flow_method(original: Callable[..., Any], on_result: Handler) -> Callable[..., Any]:
    """A cheap propagation wrapper: runs at any depth (but never inside capture code)."""

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if _following and _enabled:
            _budget.calls += 1
            if not getattr(_local, "capturing", 0):
                _run(on_result, self, args, kwargs, result, original)
        return result

    return _disguised(wrapper, original)


def _from_user(level: int) -> bool:
    """True when the code ``level`` frames above the caller belongs to no hooked library."""
    name = sys._getframe(level + 1).f_globals.get("__name__")
    return not isinstance(name, str) or name.partition(".")[0] not in LIBRARIES


def _run(
    on_result: Handler,
    owner: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    result: Any,
    named: Callable[..., Any],
) -> None:
    """Follow one call's result, accounting the time it takes to the flow budget."""
    budget = _budget
    started = _clock()
    try:
        on_result(owner, args, kwargs, result)
    except Exception as exc:  # a try block costs nothing here; a context manager would
        report(f"flow:{getattr(named, '__qualname__', '?')}", exc)
    budget.spent += _clock() - started
    budget.followed += 1
    if not budget.followed % CHECK_EVERY:
        _stop_following_if_over(budget)


def operation_method(original: Callable[..., Any], on_result: Handler) -> Callable[..., Any]:
    """A propagation wrapper for the calls user code makes (or a library no hook follows).

    A hooked library calling the same method is inside an operation whose own result the outer
    call covers: such calls cost one look at the calling frame, nothing more.
    """

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if _following and _enabled:
            _budget.calls += 1
            if not getattr(_local, "capturing", 0) and _from_user(1):
                _run(on_result, self, args, kwargs, result, on_result)
        return result

    return _disguised(wrapper, original)


def operation_function(original: Callable[..., Any], on_result: Handler) -> Callable[..., Any]:
    """:func:`operation_method` for a module-level function: ``on_result(None, …)``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if _following and _enabled:
            _budget.calls += 1
            if not getattr(_local, "capturing", 0) and _from_user(1):
                _run(on_result, None, args, kwargs, result, on_result)
        return result

    return _disguised(wrapper, original)


class _BoundHook:
    """What a wrapped descriptor returns for an instance: calls through the hook."""

    __slots__ = ("_bound", "_handler", "_owner", "_where")

    def __init__(self, bound: Callable[..., Any], owner: Any, where: str, handler: Handler) -> None:
        self._bound = bound
        self._owner = owner
        self._where = where
        self._handler = handler

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return call_hooked(self._bound, self._where, self._handler, self._owner, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bound, name)

    def __repr__(self) -> str:
        return repr(self._bound)


class HookedDescriptor:
    """Wraps a non-function descriptor (e.g. scikit-learn's ``available_if``) transparently.

    ``hasattr(obj, name)`` keeps its meaning because the original ``__get__`` runs first and
    may raise ``AttributeError`` exactly as before.
    """

    def __init__(self, original: Any, where: str, handler: Handler) -> None:
        self.original = original
        self.where = where
        self.handler = handler
        setattr(self, WRAPPED_ATTR, original)

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        bound = self.original.__get__(obj, owner)
        if obj is None:
            return bound
        return _BoundHook(bound, obj, self.where, self.handler)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


class Patcher:
    """Applies patches and remembers them so that :meth:`undo` restores every original."""

    def __init__(self) -> None:
        # (owner, name, original, had it, follows data)
        self._undo: list[tuple[Any, str, Any, bool, bool]] = []

    def set(self, owner: Any, name: str, value: Any, *, follows: bool = False) -> None:
        """Set ``owner.name``; ``follows``: the value follows data through operations (it
        goes with :meth:`undo_following`)."""
        had = name in vars(owner) if isinstance(owner, type) else hasattr(owner, name)
        original = vars(owner).get(name) if isinstance(owner, type) else getattr(owner, name, None)
        setattr(owner, name, value)
        self._undo.append((owner, name, original, had, follows))

    def function(self, module: Any, name: str, where: str, handler: Handler) -> bool:
        """Wrap ``module.name`` (a function); False when it is missing or already wrapped."""
        original = getattr(module, name, None)
        if original is None or not callable(original) or hasattr(original, WRAPPED_ATTR):
            return False
        self.set(module, name, hook_function(original, where, handler))
        return True

    def method(self, cls: type, name: str, where: str, handler: Handler) -> bool:
        """Wrap ``cls.name`` where ``cls`` itself defines it; False when it does not."""
        original = vars(cls).get(name)
        if original is None or hasattr(original, WRAPPED_ATTR):
            return False
        if isinstance(original, (staticmethod, classmethod, property)):
            return False
        if callable(original) and hasattr(original, "__code__"):
            self.set(cls, name, hook_method(original, where, handler))
            return True
        if hasattr(original, "__get__"):
            self.set(cls, name, HookedDescriptor(original, where, handler))
            return True
        return False

    def inherited_method(self, cls: type, name: str, where: str, handler: Handler) -> bool:
        """Wrap the method ``cls`` resolves ``name`` to, installing the wrapper on ``cls``."""
        original = getattr(cls, name, None)
        if original is None or hasattr(original, WRAPPED_ATTR) or not callable(original):
            return False
        self.set(cls, name, hook_method(original, where, handler))
        return True

    def _wrap(
        self,
        owner: Any,
        name: str,
        on_result: Handler,
        make: Callable[[Callable[..., Any], Handler], Callable[..., Any]],
    ) -> bool:
        if not _following:
            return False  # the budget is spent: a library imported now is not followed
        original = getattr(owner, name, None)
        if original is None or hasattr(original, WRAPPED_ATTR) or not callable(original):
            return False
        self.set(owner, name, make(original, on_result), follows=True)
        return True

    def flow(self, cls: type, name: str, on_result: Handler) -> bool:
        """Wrap ``cls.name`` with :func:`flow_method`; False when missing or wrapped."""
        return self._wrap(cls, name, on_result, flow_method)

    def operation(self, cls: type, name: str, on_result: Handler) -> bool:
        """Wrap ``cls.name`` with :func:`operation_method`; False when missing or wrapped."""
        return self._wrap(cls, name, on_result, operation_method)

    def operation_function(self, module: Any, name: str, on_result: Handler) -> bool:
        """Wrap ``module.name`` with :func:`operation_function`; False when missing or wrapped."""
        return self._wrap(module, name, on_result, operation_function)

    def on_undo(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the patches are undone (for state that cannot be removed)."""
        self._undo.append((callback, "", None, False, False))

    def undo(self) -> None:
        while self._undo:
            owner, name, original, had, _ = self._undo.pop()
            if not name:
                with capture_boundary("hooks.uninstall"):
                    owner()
                continue
            _restore(owner, name, original, had)

    def undo_following(self) -> None:
        """Restore what the wrappers that follow data replaced; the other hooks stay."""
        kept = []
        for entry in reversed(self._undo):
            owner, name, original, had, follows = entry
            if follows:
                _restore(owner, name, original, had)
            else:
                kept.append(entry)
        self._undo = kept[::-1]


def _restore(owner: Any, name: str, original: Any, had: bool) -> None:
    try:
        if had:
            setattr(owner, name, original)
        else:
            delattr(owner, name)
    except (AttributeError, TypeError):
        pass


class capturing:
    """Marks capture code: propagation wrappers stay quiet while it runs."""

    __slots__ = ()

    def __enter__(self) -> None:
        _local.capturing = getattr(_local, "capturing", 0) + 1
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _local.capturing -= 1
        _local.depth -= 1


# --- post-import hooks ------------------------------------------------------------------


# Neither class derives from importlib.abc at run time: the import system asks only for these
# methods, and importing importlib.abc (importlib.resources, tempfile, shutil) cost every
# captured process about 3 ms at start.
if TYPE_CHECKING:
    from importlib.abc import Loader as _Loader
else:
    _Loader = object


class _NotifyingLoader(_Loader):
    def __init__(self, loader: Any, hooks: PostImportHooks) -> None:
        self._loader = loader
        self._hooks = hooks

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        # Put the real loader back before running the module, so it sees nothing of us.
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        self._hooks.fire(module.__name__)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class PostImportHooks:
    """Run callbacks right after a watched module is imported (or now, if it already is)."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callable[[ModuleType], None]]] = {}
        self._busy: set[str] = set()
        self._lock = threading.RLock()

    def watch(self, names: Sequence[str], callback: Callable[[ModuleType], None]) -> None:
        for name in names:
            module = sys.modules.get(name)
            if module is not None and getattr(module, "__spec__", None) is not None:
                _initializing = getattr(module.__spec__, "_initializing", False)
                if not _initializing:
                    callback(module)
                    continue
            with self._lock:
                self._callbacks.setdefault(name, []).append(callback)
        if self._callbacks and self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._callbacks or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            from importlib.util import find_spec  # first use: a watched library's import

            spec = find_spec(fullname)
        except (ImportError, ValueError):
            return None
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _NotifyingLoader(spec.loader, self)
        return spec

    def fire(self, name: str) -> None:
        with self._lock:
            callbacks = self._callbacks.pop(name, [])
        module = sys.modules.get(name)
        if module is None:
            return
        # The wrappers made here must not bring the program's next full collection forward.
        with uncounted_objects():
            for callback in callbacks:
                with capture_boundary(f"hooks.install:{name}"):
                    callback(module)
        if not self._callbacks:
            self.close()

    def close(self) -> None:
        with self._lock:
            self._callbacks.clear()
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
