"""The wire format between ``threadline run`` and its captured processes."""

from __future__ import annotations

import json
import socket
import struct
import sys

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from threadline.capture.framing import (
    MAX_FRAME,
    frame_object,
    json_payload,
    recv_frame,
    send_frame,
)
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


# --- the codec of a supervisor (json's C half, without the json package) -------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _without_surrogates(value: object) -> bool:
    """Text JSON can carry as UTF-8 (st.text() draws lone surrogates too)."""
    return "\\ud" not in json.dumps(value).lower()


@given(_JSON_VALUES.filter(_without_surrogates))
def test_the_supervisors_codec_writes_what_json_writes_and_reads_it_back(value: object) -> None:
    """Without orjson loaded (a supervisor), a payload is json.dumps's compact form, byte for
    byte, and a frame reads back as the object that was sent."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "orjson", None)
        payload = json_payload({"v": value})
    expected = json.dumps({"v": value}, separators=(",", ":"), ensure_ascii=False).encode()
    assert payload == expected
    assert frame_object(payload) == {"v": value}


_JSONISH = st.text(alphabet='{}[]":,0123456789.eE+- \t\nntrufalsINaiy\\u\x01é', max_size=40)


def _refuse(constant: str) -> object:
    raise ValueError(constant)


@given(st.one_of(_JSONISH, _JSON_VALUES.filter(_without_surrogates).map(json.dumps)))
@example('{"a": "\x01"}')  # a control character in text: refused
@example('{"a": 1} x')
@example('{"a": -Infinity}')
@example('{"a": 1e999}')  # json's float('inf'), as before
def test_a_frame_is_accepted_or_refused_as_json_itself_decides(text: str) -> None:
    """The C scanner's verdict on any text is json's (with NaN and the infinities refused,
    and only an object taken); where it does not decide, json does, with json's error."""
    try:
        reference: object = json.loads(text, parse_constant=_refuse)
    except ValueError:
        reference = ValueError
    if "\\ud" in text.lower():
        return  # left to orjson, held to the agent's verdict in test_supervisor
    if not isinstance(reference, dict):
        with pytest.raises(ValueError):  # noqa: PT011 - json's messages vary
            frame_object(text.encode())
    else:
        assert frame_object(text.encode()) == reference


def test_an_invalid_frame_is_refused_with_jsons_own_message() -> None:
    with pytest.raises(json.JSONDecodeError, match="Expecting ',' delimiter"):
        frame_object(b'{"events": [1 2]}')
    with pytest.raises(ValueError, match="Extra data"):
        frame_object(b'{"events": []} {}')
    with pytest.raises(ValueError, match="NaN is not JSON"):
        frame_object(b'{"x": NaN}')
    with pytest.raises(ValueError, match="must hold a JSON object"):
        frame_object(b"[1]")
    with pytest.raises(UnicodeDecodeError):
        frame_object(b'{"x": "\xff"}')
    assert frame_object(b' \n{"a": [1, 2.5, true, null]}\t') == {"a": [1, 2.5, True, None]}
