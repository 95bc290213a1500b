"""scikit-learn: estimators and pipelines, metrics, and model-selection helpers.

Estimator methods are wrapped generically and lazily: ``BaseEstimator`` gets a ``__new__`` that,
the first time a class is instantiated, wraps the methods below wherever its MRO defines them
(mixins included).  By then the class is complete, so scikit-learn's own wrappers (``set_output``)
sit inside ours and we see what the user gets.  ``available_if`` descriptors are wrapped as
descriptors, so ``hasattr(pipe, "predict_proba")`` keeps its meaning.  Only the outermost call
records: ``Pipeline.fit`` is one training run, not one per step.

Metrics (public ``sklearn.metrics`` functions named ``*_score``, ``*_error``, ``*_loss``) add
their value to the evaluation of the predictions they were given.  Cross-validation helpers run
their inner fits bare.  Supported: scikit-learn 1.2 and newer.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from threadline.capture.boundary import report
from threadline.capture.hooks import HookSpec
from threadline.capture.hooks._common import arg, version_tuple
from threadline.capture.hooks._patch import WRAPPED_ATTR, Patcher
from threadline.capture.parameters import estimator_parameters

if TYPE_CHECKING:
    from threadline.capture.recorder import Capture

METHODS: Final = (
    "fit",
    "partial_fit",
    "fit_transform",
    "transform",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "fit_predict",
    "score",
)
_PREDICT: Final = ("predict", "predict_proba", "predict_log_proba", "decision_function")
_MODEL_SELECTION: Final = (
    "cross_validate",
    "cross_val_score",
    "cross_val_predict",
    "learning_curve",
    "validation_curve",
    "permutation_test_score",
)
_NOT_METRICS: Final = frozenset({"make_scorer", "get_scorer", "check_scoring", "get_scorer_names"})


def _supported(sklearn_module: ModuleType) -> bool:
    import sklearn

    return version_tuple(getattr(sklearn, "__version__", "0")) >= (1, 2)


class _NewHook:
    """What ``BaseEstimator.__new__`` consults: the current session's class wrapper.

    CPython cannot take a ``__new__`` back: once a class has had one, deleting it leaves its
    subclasses calling ``object.__new__`` with arguments, which raises.  So the ``__new__`` we
    add stays for the life of the process and only this state changes on uninstall.
    """

    wrap: Callable[[type], None] | None = None


def _install_estimators(capture: Capture, patcher: Patcher, base: ModuleType) -> bool:
    if not _supported(base):
        return False
    estimator: Any = base.BaseEstimator
    done: set[type] = set()
    handlers = {name: _handler(capture, name) for name in METHODS}

    def wrap_class(cls: type) -> None:
        if cls in done:
            return
        done.add(cls)
        for klass in cls.__mro__:
            if klass is object:
                continue
            for name in METHODS:
                if name in vars(klass):
                    patcher.method(klass, name, f"sklearn.{name}", handlers[name])

    if not hasattr(vars(estimator).get("__new__"), WRAPPED_ATTR):
        following = estimator.__mro__[1].__new__

        def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
            wrap = _NewHook.wrap
            if wrap is not None:
                try:
                    wrap(cls)
                except Exception as exc:  # never let instrumentation stop an estimator being made
                    report("sklearn.__new__", exc)
            if following is object.__new__:
                return object.__new__(cls)
            return following(cls, *args, **kwargs)

        wrapper = staticmethod(__new__)
        setattr(__new__, WRAPPED_ATTR, following)
        estimator.__new__ = wrapper

    def detach() -> None:
        _NewHook.wrap = None

    _NewHook.wrap = wrap_class
    patcher.on_undo(detach)
    pending = list(estimator.__subclasses__())
    while pending:
        cls = pending.pop()
        wrap_class(cls)
        pending.extend(cls.__subclasses__())
    return True


def _xy(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    return arg(args, kwargs, 0, "X"), arg(args, kwargs, 1, "y", "Y")


def _handler(capture: Capture, name: str) -> Any:
    def handler(estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        X, y = _xy(args, kwargs)
        hook = f"sklearn.{type(estimator).__name__}.{name}"
        if name in ("fit", "partial_fit"):
            capture.fitted(
                estimator,
                X,
                y,
                hook=hook,
                params=estimator_parameters(estimator),
                partial=name == "partial_fit",
            )
        elif name == "fit_transform":
            capture.transformed(estimator, X, result, hook=hook, fitted_here=True, y=y)
        elif name == "transform":
            capture.transformed(estimator, X, result, hook=hook, fitted_here=False)
        elif name in _PREDICT:
            capture.predicted(estimator, X, result, hook=hook, method=name)
        elif name == "fit_predict":
            capture.fitted(estimator, X, y, hook=hook, params=estimator_parameters(estimator))
            capture.predicted(estimator, X, result, hook=hook, method=name)
        elif name == "score":
            capture.metric(
                f"{type(estimator).__name__}.score", result, X, y, hook=hook, model=estimator
            )

    return handler


# --- metrics ---------------------------------------------------------------------------------


def _metric_name(name: str, kwargs: dict[str, Any]) -> str:
    simple = {
        k: v
        for k, v in sorted(kwargs.items())
        if isinstance(v, (str, int, float, bool))
        and k not in ("y_true", "y_pred", "y_score", "y_prob", "sample_weight")
    }
    if not simple:
        return name
    return f"{name}({','.join(f'{k}={v}' for k, v in simple.items())})"


def _install_metrics(capture: Capture, patcher: Patcher, metrics: ModuleType) -> bool:
    if not _supported(metrics):
        return False
    for name in getattr(metrics, "__all__", dir(metrics)):
        if name in _NOT_METRICS or not name.endswith(("_score", "_error", "_loss")):
            continue
        patcher.function(metrics, name, f"sklearn.metrics.{name}", _metric(capture, name))
    return True


def _metric(capture: Capture, name: str) -> Any:
    def handler(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        data = [
            *args[:2],
            *(kwargs[k] for k in ("y_true", "y_pred", "y_score", "y_prob") if k in kwargs),
        ]
        capture.metric(_metric_name(name, kwargs), result, *data, hook=f"sklearn.metrics.{name}")

    return handler


# --- model selection -------------------------------------------------------------------------


def _install_model_selection(capture: Capture, patcher: Patcher, module: ModuleType) -> bool:
    if not _supported(module):
        return False

    def quiet(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        return None  # the wrapper itself keeps the inner fits from recording

    for name in _MODEL_SELECTION:
        patcher.function(module, name, f"sklearn.model_selection.{name}", quiet)

    def split(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        if not isinstance(result, list):
            return
        for index, part in enumerate(result):
            source = args[index // 2] if index // 2 < len(args) else None
            if source is not None:
                capture.flow.derive(part, (source,))

    patcher.function(module, "train_test_split", "sklearn.model_selection.train_test_split", split)
    return True


hook = HookSpec(
    name="sklearn",
    targets={
        "sklearn.base": _install_estimators,
        "sklearn.metrics": _install_metrics,
        "sklearn.model_selection": _install_model_selection,
    },
    description="scikit-learn estimators, pipelines, metrics and model selection",
)
