"""An estimator's parameters as recorded: every effective value, and which ones were chosen.

A model fitted with ``C`` left at its default and one fitted with ``C=0.01`` differ in ``C``; if
only the values someone set were recorded, ``diff`` could only say ``C: — → 0.01``.  So the
whole of ``get_params(deep=True)`` is recorded, nested estimators flattened the way scikit-learn
names them::

    Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=0.5))])
    → {"steps": ["scale", "model"], "memory": None, "verbose": False, …,
       "scale": "StandardScaler", "scale__copy": True, …,
       "model": "LogisticRegression", "model__C": 0.5, "model__max_iter": 100, …}

and :attr:`Parameters.explicit` names the keys set away from their constructor's default
(``steps``, ``scale``, ``model`` and ``model__C`` above): what someone chose, as scikit-learn's
own repr shows it.  Duck-typed (``get_params``): scikit-learn is never imported here.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from threadline.capture.hooks._common import jsonable


class Parameters(dict[str, Any]):
    """Parameter values (JSON) that also know which keys were set explicitly."""

    def __init__(self, values: Mapping[str, Any], explicit: Iterable[str] = ()) -> None:
        super().__init__(values)
        #: Keys whose value differs from the default of the constructor that takes it.
        self.explicit: frozenset[str] = frozenset(explicit)


def explicit_keys(params: Mapping[str, Any]) -> list[str] | None:
    """The explicitly set keys of ``params``, sorted; None when nobody told (plain mappings)."""
    return sorted(params.explicit) if isinstance(params, Parameters) else None


def estimator_parameters(estimator: Any) -> Parameters:
    """Every effective parameter of ``estimator``, nested estimators flattened (see above);
    empty when the estimator cannot say (a ``get_params`` that fails)."""
    values: dict[str, Any] = {}
    explicit: set[str] = set()
    try:
        _walk(estimator, "", values, explicit)
    except Exception:  # a third-party get_params that fails: no parameters rather than no lineage
        return Parameters({})
    return Parameters(jsonable(values), explicit)


def _walk(estimator: Any, prefix: str, values: dict[str, Any], explicit: set[str]) -> None:
    defaults = _defaults(type(estimator))
    for key, value in estimator.get_params(deep=False).items():
        name = prefix + key
        if key not in defaults or not _same(value, defaults[key]):
            explicit.add(name)
        steps = _named_estimators(value)
        if steps is not None:
            values[name] = [step for step, _ in steps]
            for step, inner in steps:
                step_name = prefix + step
                explicit.add(step_name)  # a step is always someone's choice
                if hasattr(inner, "get_params") and not isinstance(inner, type):
                    values[step_name] = type(inner).__name__
                    _walk(inner, f"{step_name}__", values, explicit)
                else:
                    values[step_name] = inner  # "passthrough", "drop" or None
        elif hasattr(value, "get_params") and not isinstance(value, type):
            values[name] = type(value).__name__
            _walk(value, f"{name}__", values, explicit)
        else:
            values[name] = value


def _defaults(cls: type) -> dict[str, Any]:
    try:
        parameters = inspect.signature(cls).parameters  # the constructor's
    except (TypeError, ValueError):
        return {}
    return {
        name: p.default
        for name, p in parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _named_estimators(value: Any) -> list[tuple[str, Any]] | None:
    """``[(name, estimator), …]`` (``steps``, ``transformers``…) as pairs, else None."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    pairs = []
    for item in value:
        if not isinstance(item, tuple) or len(item) < 2 or not isinstance(item[0], str):
            return None
        pairs.append((item[0], item[1]))
    return pairs


def _same(value: Any, default: Any) -> bool:
    if value is default:
        return True
    try:
        return bool(type(value) is type(default) and value == default)
    except Exception:  # arrays and other values without a plain truth value
        return False


__all__ = ["Parameters", "estimator_parameters", "explicit_keys"]
