"""Canonical JSON (RFC 8785, JCS): the only serializer whose bytes are ever hashed.

orjson with sorted keys is byte-identical to JCS whenever (a) every float is either integral
and exactly representable (JCS prints ``1``, orjson ``1.0``: we turn such floats into ints
first) or in the range where both print the same shortest round-trip form (any other float
is handed to orjson already printed, as ECMAScript prints it), and (b) no object key holds a
character outside the Basic Multilingual Plane (JCS sorts keys by UTF-16 code units, orjson
by UTF-8 bytes).  Such keys go to the reference ``rfc8785`` implementation.  A property test
checks every path against it.

Most lineage events hold no float at all, so an object is first serialized as it is and the
bytes are searched for what orjson may print differently: a float or a ``null`` outside a
string (NaN prints as ``null``), a character outside the BMP.  Only when one is found, or
orjson refuses a value, is the value walked and normalized (the walk took more time than
serializing).  Text parsed by :func:`~threadline.model.canonical_text.parse_canonical` comes
with its canonical bytes: its parser saw whether it held a float, so it skips the search.  UUIDs and enum members are stored as their JSON forms on every path: the UUID's
text, the member's value.
"""

from __future__ import annotations

import enum
import math
import re
import sys
from typing import Any, Final

import orjson

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
            if out is None:
                out = dict(value)
            del out[key]
            out[_key(key)] = item
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
            out[_key(key)] = new
    return value if out is None else out


def _key(key: Any) -> str:
    """An object key as a plain string (a ``str`` subclass, a str-mixin enum member: its
    string value, never what its ``__str__`` says)."""
    if not isinstance(key, str):
        raise InvalidEvent(f"JSON object keys must be strings, got {type(key).__name__}")
    return str.__str__(key)


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


def _normalize_float(value: float) -> float | int | orjson.Fragment:
    if not math.isfinite(value):
        raise InvalidEvent(f"{value!r} is not valid JSON (NaN and infinities are not allowed)")
    if value.is_integer():
        if abs(value) <= _MAX_SAFE_INT:
            return int(value)
    elif _PLAIN_FLOAT_LOW <= abs(value) < _PLAIN_FLOAT_HIGH:
        return value
    return orjson.Fragment(_ecmascript_number(value))


def _ecmascript_number(value: float) -> bytes:
    """``value`` as ECMAScript's Number::toString prints it (what JCS prescribes), from the
    shortest digits that round-trip, which ``repr`` gives as well: a probability of 3e-05 or a
    learning rate of 1e-5 is common in lineage events, and the reference implementation walks
    the whole event in Python for it."""
    text = repr(abs(value))
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # value = 0.DIGITS x 10**point
    point = len(whole) + int(exponent or 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        out = digits + "0" * (point - count)
    elif 0 < point <= 21:
        out = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        out = "0." + "0" * -point + digits
    else:
        power = point - 1
        head = digits if count == 1 else digits[0] + "." + digits[1:]
        out = f"{head}e{'+' if power >= 0 else '-'}{abs(power)}"
    return (out if value > 0 else "-" + out).encode()


def _normalize_other(value: Any) -> Any:
    """Subclasses of the JSON types, tuples, UUIDs and enum members: always copied into
    the plain type."""
    if isinstance(value, enum.Enum):
        return _normalize(value.value)
    if isinstance(value, dict):
        return _normalize_object(dict(value))
    if isinstance(value, (list, tuple)):
        return _normalize_array(list(value))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _check_int(int(value))
    if isinstance(value, float):
        return _normalize_float(float(value))
    if _is_uuid(value):
        return str(value)
    raise InvalidEvent(f"value of type {type(value).__name__} cannot be stored as JSON")


def _is_uuid(value: Any) -> bool:
    # A UUID exists only once its module is loaded; importing it here would cost every start.
    module = sys.modules.get("uuid")
    return module is not None and isinstance(value, module.UUID)


def _plain(value: Any) -> Any:
    """``value`` in plain JSON types for the reference implementation, floats untouched."""
    kind = type(value)
    if kind is str or kind is bool or kind is int or kind is float or value is None:
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, dict):
        return {_key(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, float):
        return float(value)  # printed by the reference, whatever its range
    return _normalize_other(value)


# orjson's own conversions of non-JSON types are refused (they go to the walk, which turns
# what it can into plain JSON and names what it cannot); integers beyond 2**53 likewise.
_AS_IS: Final = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_STRICT_INTEGER
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _translation() -> bytes:
    """A byte map under which every token that needs the walk reads alike: digits and ``-``
    become ``0``; ``[`` and ``,`` (what precedes an array element) become ``,``; ``.``, ``e``
    and ``E`` (a float's marks) become ``.``; a UTF-8 lead byte of a character outside the
    BMP becomes ``!``; ``"``, ``:``, ``n``, ``u`` and ``l`` stay; everything else is a space."""
    table = bytearray(b" " * 256)
    for byte in b"0123456789-":
        table[byte] = ord("0")
    for byte in b"[,":
        table[byte] = ord(",")
    for byte in b'":nul':
        table[byte] = byte
    for byte in b".eE":
        table[byte] = ord(".")
    for byte in range(0xF0, 0xF5):
        table[byte] = ord("!")
    return bytes(table)


_TOKENS: Final = _translation()
# Outside a string, an object's value follows '":' and an array's element '[' or ','; a float
# always holds '.' or an exponent after its first digits.  Inside a string these shapes only
# ever cost a needless walk, never a wrong byte.
_OBJECT_VALUE: Final = re.compile(rb'":(?:0+\.|null)')
_ARRAY_ITEM: Final = re.compile(rb",(?:0+\.|null)")


def _as_is(value: dict[str, Any]) -> bytes | None:
    """The canonical bytes of ``value`` if orjson's are already canonical, else None."""
    try:
        body = orjson.dumps(value, option=_AS_IS)
    except TypeError:
        return None
    tokens = body.translate(_TOKENS)
    if b"!" in tokens or _OBJECT_VALUE.search(tokens) or _ARRAY_ITEM.search(tokens):
        return None
    return body


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON-compatible value."""
    if type(value) is dict:
        body = _as_is(value)
        if body is not None:
            return body
    return walked_canonical_json(value)


def walked_canonical_json(value: Any) -> bytes:
    """:func:`canonical_json` of a value known to hold what orjson prints otherwise (a float):
    walked and normalized straight away, without first serializing it as it is."""
    try:
        normalized = _normalize(value)
    except _NeedsReference:
        import rfc8785  # rarely needed; a captured process would load it for nothing (~1.5 ms)

        try:
            return bytes(rfc8785.dumps(_plain(value)))
        except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
            raise InvalidEvent(f"value cannot be canonicalized: {exc}") from exc
    return orjson.dumps(normalized, option=orjson.OPT_SORT_KEYS)
