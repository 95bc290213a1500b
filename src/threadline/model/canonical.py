"""Canonical JSON (RFC 8785, JCS): the only serializer whose bytes are ever hashed.

The fast path hands the value to orjson with sorted keys.  That is byte-identical to JCS
whenever (a) every float is either integral and exactly representable (JCS prints ``1``, orjson
``1.0``: we turn such floats into ints first) or in the range where both print the same
shortest round-trip form, and (b) no object key holds a character outside the Basic
Multilingual Plane (JCS sorts keys by UTF-16 code units, orjson by UTF-8 bytes).  Anything
else goes to the reference ``rfc8785`` implementation.  A property test checks both paths
against it.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import rfc8785

from threadline.errors import InvalidEvent

_MAX_SAFE_INT = 2**53 - 1  # Number.MAX_SAFE_INTEGER
# Where ECMAScript's Number.prototype.toString and orjson's shortest repr agree on notation.
_PLAIN_FLOAT_LOW = 1e-4  # below it orjson writes exponents, ECMAScript only below 1e-6
_PLAIN_FLOAT_HIGH = 1e16  # orjson switches to exponent notation here, ECMAScript at 1e21


class _NeedsReference(Exception):
    pass


def _normalize(value: Any) -> Any:
    """``value`` ready for orjson: integral floats become ints, tuples lists.

    Copy on write: a container in which nothing changes is returned as is, so the common
    event (no floats at all) costs one walk and no allocation.  Raises :class:`_NeedsReference`
    where only the reference implementation gets the bytes right.
    """
    kind = type(value)
    if kind is dict:
        return _normalize_object(value)
    if kind is list:
        return _normalize_array(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        return _check_int(value)
    if kind is float:
        return _normalize_float(value)
    return _normalize_other(value)


def _normalize_object(value: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] | None = None
    for key, item in value.items():
        if type(key) is not str:
            if not isinstance(key, str):
                raise InvalidEvent(f"JSON object keys must be strings, got {type(key).__name__}")
            if out is None:
                out = dict(value)
            del out[key]
            out[str(key)] = item
        if not key.isascii() and any(ord(ch) > 0xFFFF for ch in key):
            raise _NeedsReference  # JCS sorts such keys by UTF-16 code units
        kind = type(item)
        # Inline the leaves that never change: most values of a lineage event are strings.
        if kind is str or kind is bool or item is None:
            continue
        if kind is int and -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
            continue
        new: Any
        if kind is dict:
            new = _normalize_object(item)
        elif kind is list:
            new = _normalize_array(item)
        else:
            new = _normalize(item)
        if new is not item:
            if out is None:
                out = dict(value)
            out[str(key)] = new
    return value if out is None else out


def _normalize_array(value: list[Any]) -> list[Any]:
    out: list[Any] | None = None
    for index, item in enumerate(value):
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int and -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
            continue
        new: Any
        if kind is dict:
            new = _normalize_object(item)
        elif kind is list:
            new = _normalize_array(item)
        else:
            new = _normalize(item)
        if new is not item:
            if out is None:
                out = list(value)
            out[index] = new
    return value if out is None else out


def _check_int(value: int) -> int:
    if abs(value) > _MAX_SAFE_INT:
        # JCS numbers are IEEE doubles; a larger int would silently lose precision.
        raise InvalidEvent(f"integer {value} is outside the exactly representable JSON range")
    return value


def _normalize_float(value: float) -> float | int:
    if not math.isfinite(value):
        raise InvalidEvent(f"{value!r} is not valid JSON (NaN and infinities are not allowed)")
    if value.is_integer():
        if abs(value) <= _MAX_SAFE_INT:
            return int(value)
        raise _NeedsReference
    magnitude = abs(value)
    if not (_PLAIN_FLOAT_LOW <= magnitude < _PLAIN_FLOAT_HIGH):
        raise _NeedsReference
    return value


def _normalize_other(value: Any) -> Any:
    """Subclasses of the JSON types and tuples: always copied into the plain type."""
    if isinstance(value, dict):
        return _normalize_object(dict(value))
    if isinstance(value, (list, tuple)):
        return _normalize_array(list(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _check_int(int(value))
    if isinstance(value, float):
        return _normalize_float(float(value))
    raise InvalidEvent(f"value of type {type(value).__name__} cannot be stored as JSON")


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON-compatible value."""
    try:
        normalized = _normalize(value)
    except _NeedsReference:
        try:
            return bytes(rfc8785.dumps(value))
        except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
            raise InvalidEvent(f"value cannot be canonicalized: {exc}") from exc
    return orjson.dumps(normalized, option=orjson.OPT_SORT_KEYS)
