"""JSON for the processes that must start fast: ``threadline run``'s launcher and supervisor.

Importing orjson costs a process ~20 ms of CPU (it loads dataclasses, inspect, uuid,
platform…), and the json package ~5 ms (re and enum, its regular expressions compiled): more
than a short command's launcher spends on everything it encodes.  These functions write and
read JSON with the C halves of the standard library's json instead (orjson's when the process
has loaded it anyway), as strictly as the store's writer agent (orjson) reads it.
"""

from __future__ import annotations

import sys

try:
    import _json  # json's C half: see compact_json
except ImportError:  # not CPython: the json package is used
    _json = None  # type: ignore[assignment]

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from typing import Any, Final

_MISSING: Final = object()


def compact_json(value: object) -> bytes:
    """``value`` as compact JSON: orjson's when this process has loaded it, else the C
    encoder of the standard library's json (what ``json.dumps(value, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False)`` runs).  The receiving end reads either the same
    way.  NaN and the infinities are refused with a ValueError rather than written as what
    orjson would read as an error."""
    orjson = sys.modules.get("orjson")
    if orjson is not None:
        payload: bytes = orjson.dumps(value)
        return payload
    if _json is None:
        import json

        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode()
    # Made per call, as json makes it: the circular-reference markers must start empty.
    encode = _json.make_encoder(
        {}, _unencodable, _json.encode_basestring, None, ":", ",", False, False, False
    )
    return "".join(encode(value, 0)).encode()


def _unencodable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _refused_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _Strict:
    """What json's decoder hands its C scanner: no hooks, control characters in text refused,
    and NaN, Infinity and -Infinity refused (orjson, the writer agent's parser, refuses them)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_refused_constant)


# typeshed's stub asks for a JSONDecoder; the scanner reads only these attributes of it.
_scan = _json.make_scanner(_Strict()) if _json is not None else None  # type: ignore[arg-type]


def json_object(data: bytes) -> dict[str, Any]:
    """The JSON object ``data`` holds, read as strictly as the store's writer agent (orjson)
    reads it: UTF-8, an object, no NaN or infinities, no lone surrogate.  ValueError
    otherwise.

    The C scanner of the standard library's json reads it (without importing the json
    package, see :func:`compact_json`); whatever it does not take whole is read again by json
    itself, which raises the precise error (the scanner reports errors through
    ``json.decoder``, so it cannot while that is not loaded).  Senders write text outside
    ASCII as UTF-8, never as escapes, so text holding a surrogate escape (which json would
    take alone, ``"\\ud800"``) is rare enough to leave to orjson."""
    if b"\\ud" in data or b"\\uD" in data:
        import orjson

        value = orjson.loads(data)
    else:
        text = data.decode()
        value = _MISSING
        if _scan is not None:
            stripped = text.strip(" \t\n\r")
            try:
                value, end = _scan(stripped, 0)
            except Exception:  # invalid JSON: json says why, below
                end = -1
            if end != len(stripped):
                value = _MISSING
        if value is _MISSING:
            import json

            value = json.loads(text, parse_constant=_refused_constant)
    if not isinstance(value, dict):
        raise ValueError("the text must hold a JSON object")
    return value


__all__ = ["compact_json", "json_object"]
