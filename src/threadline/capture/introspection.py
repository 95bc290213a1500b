"""What a live object is, asked without importing its library: shape, columns, schema, role.

Capture sees pandas, polars and pyarrow frames, numpy arrays, estimators and plain containers,
and must tell them apart without importing any of those libraries (a script that never
imports polars must not pay for it).  Everything here duck-types: attributes, type names and
the defining module's name.  Lazy frames (polars ``LazyFrame``, pyarrow ``Dataset``) are never
asked for their schema, which would run their plan.
"""

from __future__ import annotations

from typing import Final

#: Modules whose objects are data worth tracing.
_DATA_MODULES: Final = ("numpy", "pandas", "polars", "pyarrow", "scipy", "torch")
#: Modules whose objects are frames, arrays and tables, never estimators.
_FRAME_MODULES: Final = ("numpy", "pandas", "polars", "pyarrow")


def frame_schema(obj: object) -> list[tuple[str, str]] | None:
    """Column names and dtypes of a pandas/polars-like frame, or None."""
    columns = getattr(obj, "columns", None)
    dtypes = getattr(obj, "dtypes", None)
    if columns is None or dtypes is None:
        return None
    try:
        names = [str(c) for c in columns]
        types = [str(t) for t in (dtypes.tolist() if hasattr(dtypes, "tolist") else dtypes)]
    except Exception:  # an exotic frame type: no schema facet rather than no lineage
        return None
    return list(zip(names, types, strict=False)) if len(names) == len(types) else None


def is_lazy(obj: object) -> bool:
    """A frame whose data is not computed yet: asking for its schema would run its plan."""
    return type(obj).__name__ in ("LazyFrame", "Dataset", "Scanner")


def columns(obj: object) -> list[str]:
    """Column names of a frame or table (pandas, polars, pyarrow); empty for anything else."""
    if is_lazy(obj):
        return []
    found = getattr(obj, "columns", None)
    if found is None:
        names = getattr(obj, "column_names", None)  # pyarrow
        found = names if isinstance(names, list) else None
    if found is None:
        return []
    try:
        return [str(c) for c in found]
    except TypeError:
        return []


def schema(obj: object) -> list[tuple[str, str]] | None:
    """(name, type) of each column of a frame or pyarrow table, or None."""
    if is_lazy(obj):
        return None
    # Asked of the type first: a pandas frame looks an attribute it lacks up among its columns.
    found = getattr(obj, "schema", None) if hasattr(type(obj), "schema") else None
    if found is not None and hasattr(found, "names") and hasattr(found, "types"):  # pyarrow
        return [(str(n), str(t)) for n, t in zip(found.names, found.types, strict=False)]
    return frame_schema(obj)


def row_count(obj: object) -> int | None:
    if is_lazy(obj):
        return None
    shape = getattr(obj, "shape", None)
    if isinstance(shape, tuple) and shape and isinstance(shape[0], int):
        return shape[0]
    height = getattr(obj, "num_rows", None)
    if isinstance(height, int):
        return height
    return None


def is_model(obj: object) -> bool:
    """Estimator-like: can predict, or can fit and transform."""
    if isinstance(obj, type) or type(obj).__module__.partition(".")[0] in _FRAME_MODULES:
        return False  # (a frame would look "predict" up among its columns, slowly)
    if callable(getattr(obj, "predict", None)):
        return not hasattr(obj, "columns")
    return callable(getattr(obj, "fit", None)) and callable(getattr(obj, "transform", None))


def is_predictor(obj: object) -> bool:
    return any(
        callable(getattr(obj, name, None))
        for name in ("predict", "predict_proba", "decision_function")
    )


def is_data(obj: object) -> bool:
    """Worth tracing: arrays, frames, series, tables and non-empty Python containers."""
    if obj is None or isinstance(obj, (str, bytes, bool, int, float, complex)):
        return False
    module = type(obj).__module__.partition(".")[0]
    if module in _DATA_MODULES:
        return True
    return isinstance(obj, (list, tuple, dict)) and len(obj) > 0


def as_float(value: object) -> float | None:
    """A metric's value as a float: Python and numpy scalars; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    item = getattr(value, "item", None)
    shape = getattr(value, "shape", None)
    if callable(item) and shape == ():
        try:
            out = item()
        except (TypeError, ValueError):
            return None
        return float(out) if isinstance(out, (int, float)) and not isinstance(out, bool) else None
    return None


__all__ = [
    "as_float",
    "columns",
    "frame_schema",
    "is_data",
    "is_lazy",
    "is_model",
    "is_predictor",
    "row_count",
    "schema",
]
