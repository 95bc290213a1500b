"""The canonical encoding of plain values: parameters, attributes, object-array elements.

A one-byte tag then a length-prefixed little-endian payload for ``None``, ``bool``, ``int``,
``float`` (NaNs collapse to one bit pattern), ``complex``, ``str``, ``bytes``, sequences, mappings
(sorted by encoded key), sets (sorted), dates and times, ``Decimal``, ``UUID``, paths, enums, and
functions/classes (by module and qualname: their code is *not* hashed).  Nothing relies on
``hash()``, ``id()``, pickling or dict order, so fingerprints agree across processes and hosts.

A data object met inside a value (an array among an estimator's parameters, say) is encoded by
its digest; objects such as scikit-learn's ``Tree`` that define ``__getstate__`` are encoded
through that state (never through pickle bytes).  Anything else raises :class:`Unsupported`.
The digests of data objects live in the modules above this one and encode plain values with it,
so they are reached through a function :mod:`threadline.fingerprint.objects` installs with
:func:`set_object_digest` when the package is imported, not through an import cycle.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import math
import pathlib
import struct
import types
import uuid
from collections.abc import Callable
from typing import Final

from threadline.fingerprint.hashing import u64

__all__ = [
    "MAX_DEPTH",
    "ObjectDigest",
    "Unsupported",
    "encode",
    "encode_str",
    "encoded",
    "set_object_digest",
    "type_name",
]

#: Deeper nesting than this has no encoding (and a data object no digest).
MAX_DEPTH: Final = 32
_CANONICAL_NAN: Final = struct.pack("<d", math.nan)

#: The digest of a data object at a nesting depth, or ``None`` when it has none.
ObjectDigest = Callable[[object, int], "bytes | None"]


def _not_installed(obj: object, depth: int) -> bytes | None:
    raise RuntimeError(
        "import threadline.fingerprint.objects (or call fingerprint_object) before encoding "
        "values that may hold data objects"
    )


_object_digest: ObjectDigest = _not_installed


def set_object_digest(digest: ObjectDigest) -> None:
    """Install the digest :func:`encode` falls back to for data objects (see the docstring)."""
    global _object_digest
    _object_digest = digest


class Unsupported(Exception):
    """A value with no deterministic encoding."""


def type_name(value: object) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _encode_bytes(out: bytearray, tag: bytes, payload: bytes) -> None:
    out += tag
    out += u64(len(payload))
    out += payload


def encode_str(out: bytearray, text: str) -> None:
    _encode_bytes(out, b"s", text.encode("utf-8", "surrogatepass"))


def _encode_int(out: bytearray, number: int) -> None:
    # Two's complement bytes instead of decimal text: no 4300-digit str() limit.
    _encode_bytes(out, b"i", number.to_bytes((number.bit_length() + 8) // 8, "little", signed=True))


def _encode_float(out: bytearray, number: float) -> None:
    out += b"d"
    out += _CANONICAL_NAN if math.isnan(number) else struct.pack("<d", number)


def encoded(value: object, depth: int) -> bytes:
    out = bytearray()
    encode(out, value, depth)
    return bytes(out)


def encode(out: bytearray, value: object, depth: int) -> None:
    """Append the canonical encoding of ``value``; raise :class:`Unsupported` if it has none."""
    if depth > MAX_DEPTH:
        raise Unsupported(f"nested deeper than {MAX_DEPTH} levels")
    if value is None:
        out += b"n"
    elif value is True or value is False:
        out += b"t" if value else b"f"
    elif isinstance(value, enum.Enum):
        out += b"e"
        encode_str(out, type_name(value))
        encode_str(out, value.name)
    elif isinstance(value, int):
        _encode_int(out, int(value))
    elif isinstance(value, float):
        _encode_float(out, float(value))
    elif isinstance(value, complex):
        out += b"c"
        _encode_float(out, value.real)
        _encode_float(out, value.imag)
    elif isinstance(value, str):
        encode_str(out, str(value))
    elif isinstance(value, (bytes, bytearray, memoryview)):
        _encode_bytes(out, b"b", bytes(value))
    elif isinstance(value, (list, tuple)):
        out += b"l"
        out += u64(len(value))
        for item in value:
            encode(out, item, depth + 1)
    elif isinstance(value, dict):
        pairs = sorted((encoded(k, depth + 1), encoded(v, depth + 1)) for k, v in value.items())
        out += b"m"
        out += u64(len(pairs))
        for key, item in pairs:
            out += key
            out += item
    elif isinstance(value, (set, frozenset)):
        members = sorted(encoded(item, depth + 1) for item in value)
        out += b"S"
        out += u64(len(members))
        for member in members:
            out += member
    elif isinstance(value, (datetime.date, datetime.time)):
        # date, datetime and time: isoformat keeps microseconds and the UTC offset.
        out += b"x"
        encode_str(out, type_name(value))
        encode_str(out, value.isoformat())
    elif isinstance(value, datetime.timedelta):
        out += b"x"
        encode_str(out, "datetime.timedelta")
        encode_str(out, f"{value.days},{value.seconds},{value.microseconds}")
    elif isinstance(value, (decimal.Decimal, uuid.UUID, pathlib.PurePath)):
        out += b"x"
        encode_str(out, type_name(value))
        encode_str(out, value.as_posix() if isinstance(value, pathlib.PurePath) else str(value))
    elif isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)) or (
        _top_module(value) == "numpy" and type(value).__name__ == "ufunc"
    ):
        out += b"F"
        encode_str(out, str(getattr(value, "__module__", None) or ""))
        name = getattr(value, "__qualname__", None) or getattr(value, "__name__", "")
        encode_str(out, str(name))
    else:
        _encode_object(out, value, depth)


def _encode_object(out: bytearray, value: object, depth: int) -> None:
    top = _top_module(value)
    if top == "numpy":
        scalar = _numpy_scalar(value)
        if scalar is not None:
            encode(out, scalar, depth)
            return
    digest = _object_digest(value, depth + 1)
    if digest is not None:
        out += b"o"
        out += digest
        return
    getstate = getattr(type(value), "__getstate__", None)
    # A frame or table we could not fingerprint must not sneak in through its internal state
    # (block layouts, chunk lists), which describes how it was built rather than what it holds.
    if top not in _DATA_LIBRARIES and getstate not in (None, object.__getstate__):
        # Extension types such as sklearn's Tree expose their whole state this way; we encode
        # the state canonically instead of pickling it, whose bytes are not deterministic.
        try:
            state = getstate(value)
        except Exception as exc:
            # Classes that refuse to be pickled often raise here; that is "no encoding" to us.
            raise Unsupported(type_name(value)) from exc
        out += b"g"
        encode_str(out, type_name(value))
        encode(out, state, depth + 1)
        return
    raise Unsupported(type_name(value))


_DATA_LIBRARIES: Final = frozenset({"pandas", "pyarrow", "polars"})


def _numpy_scalar(value: object) -> object | None:
    """The plain Python value equal to a numpy scalar, when one exists exactly."""
    import numpy as np  # only reached for a numpy object, so numpy is loaded already

    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.float16, np.float32, np.float64)):
        return float(value)
    if isinstance(value, (np.complex64, np.complex128)):
        return complex(value)
    return None


def _top_module(value: object) -> str:
    return type(value).__module__.partition(".")[0]
