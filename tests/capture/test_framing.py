"""The wire format between ``threadline run`` and its captured processes."""

from __future__ import annotations

import socket
import struct
import sys

import pytest

from threadline.capture.framing import MAX_FRAME, json_payload, recv_frame, send_frame
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


@pytest.mark.parametrize("orjson_loaded", [True, False])
def test_a_json_payload_reads_back_the_same_with_or_without_orjson_loaded(
    orjson_loaded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orjson

    if not orjson_loaded:  # a supervisor's process: orjson is never imported there
        monkeypatch.setitem(sys.modules, "orjson", None)
    value = {"events": [{"text": 'ünï ☃ 𝄞 "q" \\ \n\x00', "n": 2**40, "x": 0.1, "none": None}]}
    payload = json_payload(value)
    assert orjson.loads(payload) == value
    if not orjson_loaded:
        with pytest.raises(ValueError, match="Out of range float"):
            json_payload({"x": float("nan")})
