"""The wire format between ``threadline run`` and the processes it captures.

Over the supervisor's Unix socket every message is one *frame*: a 4-byte big-endian length,
then that many bytes (a JSON object).  A connection opens with a hello frame naming its role:
``events`` (batches to write; each acknowledged by a single byte, 1 written, 0 failed) or
``questions`` (each question frame answered by one frame, in order).
"""

from __future__ import annotations

import struct
import sys

try:
    import _json  # json's C half: see json_payload
except ImportError:  # not CPython: the json package is used
    _json = None  # type: ignore[assignment]

from threadline.errors import CaptureError

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from _socket import socket  # the C type: the launcher never imports the socket module
    from typing import Any, Final

_HEADER: Final = struct.Struct(">I")
_MISSING: Final = object()
#: A frame longer than this is refused (a corrupted length, not a real batch).
MAX_FRAME: Final = 256 * 1024 * 1024

#: The hello's ``role`` of a connection that sends event batches.
EVENTS: Final = "events"
#: The hello's ``role`` of a connection that asks what earlier runs recorded.
QUESTIONS: Final = "questions"
#: The acknowledgement of a batch written (or safely received), and of one that failed.
ACK_OK: Final = b"\x01"
ACK_FAILED: Final = b"\x00"
#: The store refused an event of the batch as invalid; a frame with the reason follows
#: (the store's writer agent, :mod:`threadline.capture.agent`).
ACK_REFUSED: Final = b"\x02"


def json_payload(value: object) -> bytes:
    """``value`` as a frame's compact JSON: orjson's when this process has loaded it, else
    the C encoder of the standard library's json (what ``json.dumps(value,
    separators=(",", ":"), ensure_ascii=False, allow_nan=False)`` runs).  Importing orjson
    costs a process ~20 ms of CPU (it loads dataclasses, inspect, uuid, platform…), and the
    json package ~5 ms (re and enum, its regular expressions compiled): more than the
    supervisor of a short command spends on everything it encodes.  The receiving end reads
    either the same way.  NaN and the infinities are refused with a ValueError rather than
    written as what orjson would read as an error."""
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


def frame_object(frame: bytes) -> dict[str, Any]:
    """The JSON object a frame holds, read as strictly as the store's writer agent (orjson)
    will read it: UTF-8, an object, no NaN or infinities, no lone surrogate.  ValueError
    otherwise.

    The C scanner of the standard library's json reads it (without importing the json
    package, see :func:`json_payload`); whatever it does not take whole is read again by json
    itself, which raises the precise error (the scanner reports errors through
    ``json.decoder``, so it cannot while that is not loaded).  Senders write text outside
    ASCII as UTF-8, never as escapes, so a frame holding a surrogate escape (which json would
    take alone, ``"\\ud800"``) is rare enough to leave to orjson."""
    if b"\\ud" in frame or b"\\uD" in frame:
        import orjson

        value = orjson.loads(frame)
    else:
        text = frame.decode()
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
        raise ValueError("a frame must hold a JSON object")
    return value


def send_frame(sock: socket, payload: bytes) -> None:
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def recv_exact(sock: socket, size: int) -> bytes | None:
    """Exactly ``size`` bytes, or None when the peer closed the connection first."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket) -> bytes | None:
    """The next frame's payload, or None when the peer closed the connection."""
    header = recv_exact(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise CaptureError(f"a capture frame of {size} bytes is over the limit")
    return recv_exact(sock, size) if size else b""


__all__ = [
    "ACK_FAILED",
    "ACK_OK",
    "EVENTS",
    "MAX_FRAME",
    "QUESTIONS",
    "frame_object",
    "json_payload",
    "recv_exact",
    "recv_frame",
    "send_frame",
]
