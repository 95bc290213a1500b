"""The wire format between ``threadline run`` and its captured processes."""

from __future__ import annotations

import socket
import struct

import pytest

from threadline.capture.framing import MAX_FRAME, recv_frame, send_frame
from threadline.errors import CaptureError


def test_frames_round_trip_and_a_closed_peer_is_none() -> None:
    left, right = socket.socketpair()
    with left, right:
        send_frame(left, b'{"a": 1}')
        send_frame(left, b"")
        assert recv_frame(right) == b'{"a": 1}'
        assert recv_frame(right) == b""
        left.close()
        assert recv_frame(right) is None


def test_a_frame_over_the_limit_is_refused() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(struct.pack(">I", MAX_FRAME + 1))
        with pytest.raises(CaptureError, match="over the limit"):
            recv_frame(right)
