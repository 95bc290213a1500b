"""Fingerprints of pandas and polars frames, series and indexes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

from threadline.fingerprint import (
    fingerprint_object,
)


def sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.5, 2.5, np.nan, 4.0],
            "n": [1, 2, 3, 4],
            "s": ["a", "bb", None, "dddd"],
            "o": pd.Series(["p", None, "q", "r"], dtype=object),
            "c": pd.Categorical(["u", "v", "u", "u"]),
            "i": pd.array([1, None, 3, 4], dtype="Int64"),
            "t": pd.date_range("2024-01-01", periods=4, tz="UTC"),
        }
    )


def test_equal_frames_built_differently_are_equal() -> None:
    frame = sample_frame()
    from_records = pd.DataFrame.from_records(frame.to_dict("records")).astype(frame.dtypes)
    halves = pd.concat([frame.iloc[:2], frame.iloc[2:]], ignore_index=True)
    copied = frame.copy(deep=True)
    expected = fingerprint_object(frame)
    assert expected is not None
    assert fingerprint_object(from_records) == expected
    assert fingerprint_object(halves) == expected
    assert fingerprint_object(copied) == expected


def test_range_index_equals_the_equal_int64_index() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    explicit = frame.set_axis(pd.Index([0, 1, 2], dtype="int64"), axis=0)
    assert fingerprint_object(frame) == fingerprint_object(explicit)


def test_each_range_index_is_its_own_labels_twice_over() -> None:
    """Ranges are digested once and remembered: each still equals the int64 labels it holds
    and differs from every other range, the second time as the first."""
    ranges = [range(0, 3), range(5, 8), range(0, 6, 2), range(2, -1, -1), range(0, 3)]
    for _ in range(2):
        found = set()
        for labels in ranges:
            index = pd.RangeIndex(labels.start, labels.stop, labels.step)
            frame = pd.DataFrame({"a": [1, 2, 3]}, index=index)
            explicit = frame.set_axis(pd.Index(list(labels), dtype="int64"), axis=0)
            assert fingerprint_object(frame) == fingerprint_object(explicit)
            found.add(fingerprint_object(frame))
        assert len(found) == 4


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.assign(n=[1, 2, 3, 5]),
        lambda f: f.assign(s=["a", "bb", None, "ddde"]),
        lambda f: f.assign(s=["a", "bb", "", "dddd"]),
        lambda f: f.iloc[::-1].reset_index(drop=True),
        lambda f: f.iloc[::-1],
        lambda f: f.rename(columns={"x": "y"}),
        lambda f: f.astype({"n": "float64"}),
        lambda f: f.astype({"n": "Int64"}),
        lambda f: f.astype({"o": "str"}),
        lambda f: f.set_axis([10, 11, 12, 13], axis=0),
        lambda f: f[["n", "x", "s", "o", "c", "i", "t"]],
        lambda f: f.assign(c=pd.Categorical(["u", "v", "u", "u"], categories=["u", "v", "w"])),
    ],
    ids=[
        "int-cell",
        "str-cell",
        "null-vs-empty",
        "reorder-rows",
        "reverse-with-index",
        "rename-column",
        "int-to-float",
        "int-to-nullable",
        "object-to-str",
        "index",
        "column-order",
        "categories",
    ],
)
def test_frame_is_sensitive_to(change: Any) -> None:
    frame = sample_frame()
    assert fingerprint_object(change(frame)) != fingerprint_object(frame)


def test_series_and_index_are_supported_and_named() -> None:
    frame = sample_frame()
    assert fingerprint_object(frame["s"]) != fingerprint_object(frame["s"].rename("t"))
    assert fingerprint_object(frame.index) is not None
    assert fingerprint_object(frame.set_index(["s", "n"]).index) is not None


def test_object_column_of_mixed_python_values_falls_back_to_elements() -> None:
    mixed = pd.DataFrame({"m": pd.Series([1, "two", 3.0, None], dtype=object)})
    assert fingerprint_object(mixed) is not None
    other = pd.DataFrame({"m": pd.Series([1, "two", 3.5, None], dtype=object)})
    assert fingerprint_object(mixed) != fingerprint_object(other)


def test_polars_frame_equals_its_arrow_table_and_is_sensitive() -> None:
    frame = pl.DataFrame({"a": [1, 2, None], "s": ["x", None, "z"], "f": [0.5, 1.5, 2.5]})
    assert fingerprint_object(frame) == fingerprint_object(frame.to_arrow())
    rechunked = pl.concat([frame.head(1), frame.tail(2)], rechunk=False)
    assert fingerprint_object(rechunked) == fingerprint_object(frame)
    assert fingerprint_object(frame.with_columns(pl.col("a").fill_null(0))) != (
        fingerprint_object(frame)
    )
    assert fingerprint_object(frame["s"]) != fingerprint_object(frame["s"].alias("t"))
