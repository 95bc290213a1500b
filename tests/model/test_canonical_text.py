"""Parsing JSON text with its canonical bytes reads what orjson reads, refuses what it refuses
in its words, and gives the bytes ``canonical_json`` would."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.model.json_text import awkward_keys, token_text

from threadline.model.canonical import canonical_json
from threadline.model.canonical_text import parse_canonical


def _same(left: Any, right: Any) -> bool:
    """Equal and of the same JSON types all through (``1 == 1.0`` is not enough here)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, float):
        return repr(left) == repr(right)
    return bool(left == right)


def _as_orjson_would(text: bytes) -> tuple[str, Any]:
    try:
        return "value", orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return "error", str(exc)


def _as_parsed(text: bytes) -> tuple[str, Any]:
    try:
        value, canonical = parse_canonical(text)
    except orjson.JSONDecodeError as exc:
        return "error", str(exc)
    if canonical is not None:
        assert canonical == canonical_json(value)
    return "value", value


def _check_parse(text: bytes) -> None:
    expected, got = _as_orjson_would(text), _as_parsed(text)
    assert expected[0] == got[0]
    assert _same(expected[1], got[1]) if expected[0] == "value" else expected == got


# Integers past 2**53 and past 64 bits (orjson reads the latter as floats), floats at and
# beyond a double's range, text from all of Unicode: everything a parser may read otherwise.
wide_numbers = (
    st.integers()
    | st.integers(2**53 - 2, 2**65)
    | st.integers(-(2**65), -(2**53) + 2)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    st.none() | st.booleans() | wide_numbers | st.text() | token_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(awkward_keys | token_text, inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=1000)
@given(json_values, st.booleans())
def test_parsing_reads_what_orjson_reads_and_gives_canonical_bytes(value: Any, ascii: bool) -> None:
    _check_parse(json.dumps(value, ensure_ascii=ascii).encode())


@settings(max_examples=1000)
@given(json_values, st.data())
def test_parsing_refuses_what_orjson_refuses_with_its_words(
    value: Any, data: st.DataObject
) -> None:
    """Text cut, spliced into or overwritten anywhere: orjson's value or orjson's error."""
    text = bytearray(json.dumps(value).encode())
    at = data.draw(st.integers(0, len(text)))
    mutation = data.draw(st.sampled_from(["cut", "insert", "overwrite"]))
    noise = data.draw(
        st.binary(min_size=1, max_size=4)
        | st.sampled_from([b"1e400", b"-1e999", b"\\ud800", b"\xed\xa0\x80", b"NaN", b","])
    )
    if mutation == "cut":
        del text[at:]
    elif mutation == "insert":
        text[at:at] = noise
    else:
        text[at : at + len(noise)] = noise
    _check_parse(bytes(text))


@pytest.mark.parametrize(
    "text",
    [
        b"18446744073709551616",  # beyond 64 bits: a float to orjson
        b'{"n": -9223372036854775809, "m": 1}',
        b'{"n": 9007199254740993}',  # an int past 2**53: refused by canonical form, later
        b"[1e400]",
        b'"\\ud800"',
        b"[" * 1100 + b"]" * 1100,
        b'{"\xf0\x9f\x98\x80": 1, "\xef\xbf\xbf": 2}',  # keys UTF-8 and UTF-16 order otherwise
        b'{"a": null, "b": [null, 1, 0.5e-7]}',
    ],
)
def test_parsing_edges(text: bytes) -> None:
    _check_parse(text)


def test_floats_seen_in_one_thread_are_not_forgotten_by_another() -> None:
    """Which text held a float is noted per thread: the batch path parses on many.  Threads
    parsing float-free text (each parse starts by forgetting) switch in while another is
    between its last float and the question whether it saw one (printed as they are, its
    floats would read ``1.0`` where canonical JSON has ``1``)."""
    with_floats = orjson.dumps({"tail": "x" * 200, "metrics": [1.0] * 50})
    expected = b'{"metrics":[' + b",".join([b"1"] * 50) + b'],"tail":"' + b"x" * 200 + b'"}'
    without = b'{"a":1}'
    wrong: list[bytes | None] = []
    done = threading.Event()

    def parse_floats() -> None:
        for _ in range(3000):
            _value, canonical = parse_canonical(with_floats)
            if canonical != expected:
                wrong.append(canonical)
        done.set()

    def parse_plain() -> None:
        while not done.is_set():
            parse_canonical(without)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=parse_floats)]
        threads += [threading.Thread(target=parse_plain) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert not wrong
