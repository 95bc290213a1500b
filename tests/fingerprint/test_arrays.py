"""Fingerprints of numpy arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from threadline.fingerprint import (
    fingerprint_object,
)


def test_array_layout_and_byte_order_do_not_matter() -> None:
    base = np.arange(24, dtype="<f8").reshape(4, 6)
    expected = fingerprint_object(base)
    assert fingerprint_object(base.astype(">f8")) == expected
    assert fingerprint_object(np.asfortranarray(base)) == expected
    assert fingerprint_object(np.arange(48, dtype="<f8").reshape(4, 12)[:, ::2] * 0 + base) == (
        expected
    )


def test_array_dtype_shape_and_values_matter() -> None:
    base = np.arange(12, dtype=np.int64)
    variants = [
        base,
        base.astype(np.int32),
        base.astype(np.float64),
        base.reshape(3, 4),
        base.reshape(3, 4).T,
        np.where(base == 5, 50, base),
    ]
    assert len({fingerprint_object(v) for v in variants}) == len(variants)


def test_structured_padding_is_never_hashed() -> None:
    dtype = np.dtype({"names": ["a", "b"], "formats": ["u1", "<f8"], "offsets": [0, 8]})
    zeroed = np.zeros(3, dtype=dtype)
    dirty = np.frombuffer(b"\xff" * (3 * dtype.itemsize), dtype=dtype).copy()
    dirty["a"], dirty["b"] = 0, 0.0
    assert fingerprint_object(zeroed) == fingerprint_object(dirty)


def test_object_arrays_of_str_take_the_joined_path_and_stay_exact() -> None:
    words = np.array(["a", "bc", ""], dtype=object)
    as_string_dtype = fingerprint_object(words.astype(np.dtypes.StringDType()))
    assert as_string_dtype is not None
    assert as_string_dtype != fingerprint_object(words)  # the dtype is part of the content
    assert fingerprint_object(words) != fingerprint_object(np.array(["a", "b", "c"], dtype=object))
    # A NUL inside a value forces the per-element path, which must still tell values apart.
    with_nul = fingerprint_object(np.array(["a\0b", "c"], dtype=object))
    assert with_nul != fingerprint_object(np.array(["a", "b\0c"], dtype=object))
    assert with_nul is not None


def test_nan_sign_and_payload_do_not_matter() -> None:
    quiet = np.array([1.0, np.nan, 3.0])
    odd = quiet.copy()
    odd.view(np.uint64)[1] = 0xFFF8_0000_0000_0001  # negative NaN with a payload, as x86 makes
    assert np.isnan(odd[1])
    assert fingerprint_object(odd) == fingerprint_object(quiet)
    assert fingerprint_object(odd.astype(">f8")) == fingerprint_object(quiet)
    assert fingerprint_object(odd.astype(np.complex128)) == (
        fingerprint_object(quiet.astype(np.complex128))
    )
    assert fingerprint_object(pd.DataFrame({"x": odd})) == fingerprint_object(
        pd.DataFrame({"x": quiet})
    )
    assert fingerprint_object(pa.array(odd)) == fingerprint_object(pa.array(quiet))
    assert fingerprint_object(np.array([-0.0])) != fingerprint_object(np.array([0.0]))


def test_long_double_is_unsupported() -> None:
    long_double = np.array([1.0], dtype=np.longdouble)
    if long_double.dtype.itemsize == 8:
        pytest.skip("long double is plain double on this platform")
    assert fingerprint_object(long_double) is None


def test_masked_values_do_not_leak() -> None:
    one = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    two = np.ma.masked_array([1.0, 99.0, 3.0], mask=[False, True, False])
    assert fingerprint_object(one) == fingerprint_object(two)
    assert fingerprint_object(one) != fingerprint_object(np.ma.masked_array([1.0, 2.0, 3.0]))
