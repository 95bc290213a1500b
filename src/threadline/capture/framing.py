"""The wire format between ``threadline run`` and the processes it captures.

Over the supervisor's Unix socket every message is one *frame*: a 4-byte big-endian length,
then that many bytes (a JSON object, written and read by :mod:`threadline.quick_json`).  A
connection opens with a hello frame naming its role: ``events`` (batches to write; each
acknowledged by a single byte, 1 written, 0 failed) or ``questions`` (each question frame
answered by one frame, in order).
"""

from __future__ import annotations

import struct

from threadline.errors import CaptureError
from threadline.quick_json import compact_json as json_payload
from threadline.quick_json import json_object as frame_object

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from _socket import socket  # the C type: the launcher never imports the socket module
    from typing import Final

_HEADER: Final = struct.Struct(">I")
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
