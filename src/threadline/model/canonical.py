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
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEvent(f"JSON object keys must be strings, got {type(key).__name__}")
            if not key.isascii() and any(ord(ch) > 0xFFFF for ch in key):
                raise _NeedsReference
            out[key] = _normalize(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_normalize(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            # JCS numbers are IEEE doubles; a larger int would silently lose precision.
            raise InvalidEvent(f"integer {value} is outside the exactly representable JSON range")
        return value
    if isinstance(value, float):
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
    raise InvalidEvent(f"value of type {type(value).__name__} cannot be stored as JSON")


def _is_plain(value: Any) -> bool:
    """True when orjson's sorted output is already canonical: no floats, only safe ints,
    only string keys inside the Basic Multilingual Plane.  A flat type walk, no allocation:
    most lineage events qualify, and this is the ingest hot path."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if type(key) is not str or (
                    not key.isascii() and any(ord(c) > 0xFFFF for c in key)
                ):
                    return False
                child_kind = type(child)
                if child_kind is str or child_kind is bool or child is None:
                    continue
                if child_kind is int:
                    if -_MAX_SAFE_INT <= child <= _MAX_SAFE_INT:
                        continue
                    return False
                stack.append(child)
        elif kind is list:
            stack.extend(item)
        elif kind is str or kind is bool or item is None:
            continue
        elif kind is int:
            if not -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                return False
        else:
            return False
    return True


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON-compatible value."""
    if _is_plain(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    try:
        normalized = _normalize(value)
    except _NeedsReference:
        try:
            return bytes(rfc8785.dumps(value))
        except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
            raise InvalidEvent(f"value cannot be canonicalized: {exc}") from exc
    return orjson.dumps(normalized, option=orjson.OPT_SORT_KEYS)
