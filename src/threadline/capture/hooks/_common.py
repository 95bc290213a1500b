"""Small helpers the adapters share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MISSING = object()


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
