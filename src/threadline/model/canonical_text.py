"""JSON text parsed together with its canonical bytes (:mod:`threadline.model.canonical`).

Apart from the serializer so that what only ingest needs (msgspec's decoder) is never loaded
by a captured program, which canonicalizes what it records but parses no events.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Final

import msgspec
import orjson

from threadline.errors import InvalidEvent
from threadline.model.canonical import walked_canonical_json


class _FloatsSeen(threading.local):
    seen = False


_floats = _FloatsSeen()


def _float(text: str) -> float:
    """msgspec's hook for a number with a fraction or an exponent: the float orjson reads
    (both round correctly), noted; one too large for a double is refused, as orjson does."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    _floats.seen = True
    return value


_NOTING_DECODER: Final = msgspec.json.Decoder(float_hook=_float)
# The canonical bytes of a value that holds no float: ints beyond 2**53 are refused by
# OPT_STRICT_INTEGER (as the walk refuses them).
_FLOAT_FREE: Final = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def parse_canonical(text: bytes) -> tuple[Any, bytes | None]:
    """``text`` parsed as ``orjson.loads`` parses it (the same value, the same error), and the
    value's canonical bytes (None for a value the store will refuse or holding text outside
    ASCII without a float: ``canonical_json`` says which).

    ``canonical_json`` prints a value with orjson and searches the bytes for floats, which
    print otherwise under RFC 8785 (three times the cost of printing them); a parser that notes
    every float it reads makes the search needless: a value without one is printed as it
    is, a value with one is walked straight away.  msgspec reads every value orjson reads
    alike but integers beyond 64 bits (orjson makes them floats) and numbers past a double's
    range (orjson refuses them); what holds either, or what msgspec refuses, is parsed by
    orjson, whose value or error stands.  A value parsed from JSON holds no NaN, so a
    ``null`` is a null; a character outside the Basic Multilingual Plane (anywhere, for
    simplicity: JCS orders keys by UTF-16) can only be in non-ASCII text.
    """
    _floats.seen = False
    try:
        value = _NOTING_DECODER.decode(text)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return orjson.loads(text), None
    if _floats.seen:
        try:
            return value, walked_canonical_json(value)
        except InvalidEvent:  # an integer beyond 2**53, perhaps beyond 64 bits: orjson's value
            return orjson.loads(text), None
    try:
        body = orjson.dumps(value, option=_FLOAT_FREE)
    except TypeError:  # the same
        return orjson.loads(text), None
    return value, body if body.isascii() else None


__all__ = ["parse_canonical"]
