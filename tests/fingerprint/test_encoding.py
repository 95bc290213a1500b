"""The canonical encoding of plain values: pinned bytes, order independence, no encoding."""

from __future__ import annotations

import datetime
import decimal
import math
import pathlib
import uuid

import numpy as np
import pytest

from threadline.fingerprint.encoding import Unsupported, encoded
from threadline.fingerprint.objects import object_digest


def test_scalars_are_pinned() -> None:
    assert encoded(None, 0) == b"n"
    assert encoded(True, 0) + encoded(False, 0) == b"tf"
    assert encoded(1, 0) == b"i" + (1).to_bytes(8, "little") + b"\x01"
    assert encoded(-1, 0) == b"i" + (1).to_bytes(8, "little") + b"\xff"
    assert encoded("é", 0) == b"s" + (2).to_bytes(8, "little") + "é".encode()
    assert encoded(b"ab", 0) == b"b" + (2).to_bytes(8, "little") + b"ab"
    assert encoded(1.5, 0) == b"d" + np.float64(1.5).tobytes()
    assert encoded([None], 0) == b"l" + (1).to_bytes(8, "little") + b"n"


def test_every_nan_is_the_same_and_numpy_scalars_equal_python_values() -> None:
    assert encoded(math.nan, 0) == encoded(-math.nan, 0) == encoded(float("nan"), 0)
    assert encoded(np.int16(3), 0) == encoded(3, 0)
    assert encoded(np.float32(0.5), 0) == encoded(0.5, 0)
    assert encoded(np.bool_(True), 0) == encoded(True, 0)


def test_mappings_and_sets_do_not_depend_on_order() -> None:
    assert encoded({"b": 1, "a": 2}, 0) == encoded({"a": 2, "b": 1}, 0)
    assert encoded({3, 1, 2}, 0) == encoded({2, 3, 1}, 0)
    assert encoded([1, 2], 0) != encoded([2, 1], 0)
    assert encoded((1, 2), 0) == encoded([1, 2], 0)


def test_typed_values_name_their_type() -> None:
    values = [
        datetime.date(2020, 1, 2),
        datetime.datetime(2020, 1, 2),
        datetime.timedelta(days=1),
        decimal.Decimal("1.0"),
        uuid.UUID(int=1),
        pathlib.PurePosixPath("/a"),
        len,
        str,
    ]
    assert len({encoded(value, 0) for value in values}) == len(values)
    assert encoded(decimal.Decimal("1.0"), 0) != encoded(decimal.Decimal("1.00"), 0)


def test_a_value_with_no_encoding_raises_unsupported() -> None:
    with pytest.raises(Unsupported, match="object"):
        encoded(object(), 0)
    deep: list[object] = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(Unsupported, match="deeper"):
        encoded(deep, 0)


def test_data_objects_inside_values_are_encoded_by_their_digest() -> None:
    inner = np.arange(3)
    assert encoded([inner], 0) == encoded([np.arange(3)], 0)
    assert encoded([inner], 0) != encoded([np.arange(4)], 0)
    # A list of one: tag and length (9 bytes), then the object's tag and its digest at depth 1.
    assert encoded([inner], 0)[9:] == b"o" + (object_digest(inner, 1) or b"")
