"""Small helpers the adapters share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

_MISSING = object()
_DATA_LIBRARIES: Final = ("pandas", "numpy", "polars", "pyarrow")


def arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, *names: str) -> Any:
    """The argument at ``index`` or under any of ``names``; ``None`` when absent."""
    if index < len(args):
        return args[index]
    for name in names:
        value = kwargs.get(name, _MISSING)
        if value is not _MISSING:
            return value
    return None


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as JSON: scalars as they are, anything else by its type or short repr."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or isinstance(value, (bool, int, float, str)):
            if isinstance(value, float) and value != value:  # NaN has no JSON form
                out[str(key)] = "nan"
            else:
                out[str(key)] = value
        elif isinstance(value, (list, tuple)) and all(
            v is None or isinstance(v, (bool, int, str)) for v in value
        ):
            out[str(key)] = list(value)
        elif hasattr(value, "get_params"):
            out[str(key)] = type(value).__name__
        else:
            text = repr(value)
            out[str(key)] = (
                text if len(text) <= 200 and " at 0x" not in text else type(value).__name__
            )
    return out


def version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("."):
        digits = "".join(c for c in piece if c.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def operands(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[list[Any], bool]:
    """The data an operation was given (frames, series, arrays, also inside lists and dicts),
    and whether it was given a function (whose body may read other data).

    Index objects (``other.columns``, ``other.index``) are labels, not data; numpy scalars,
    dtypes and polars expressions (no shape) are parameters.
    """
    found: list[Any] = []
    called = False
    for value in (*args, *kwargs.values()):
        if isinstance(value, (list, tuple)):
            items: Any = value[:64]
        elif isinstance(value, dict):
            items = list(value.values())[:64]
        else:
            items = (value,)
        for item in items:
            kind = type(item)
            if kind.__module__.startswith(_DATA_LIBRARIES):
                shape = getattr(item, "shape", None)
                if (shape and not kind.__name__.endswith("Index")) or kind.__name__ == "LazyFrame":
                    found.append(item)
            elif callable(item) and not isinstance(item, type):
                called = True
    return found, called


def classes_at(module: Any, paths: tuple[str, ...]) -> list[type]:
    """The classes at dotted ``paths`` under an imported ``module`` that this version has."""
    found: list[type] = []
    for path in paths:
        value: Any = module
        for part in path.split("."):
            value = getattr(value, part, None)
        if isinstance(value, type):
            found.append(value)
    return found
