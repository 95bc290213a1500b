"""Fingerprints of Arrow arrays and tables."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.fingerprint import (
    fingerprint_object,
)

rows = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
        st.one_of(st.none(), st.text(max_size=8)),
        st.one_of(st.none(), st.booleans()),
        st.one_of(st.none(), st.lists(st.integers(-5, 5), max_size=3)),
    ),
    max_size=40,
)


def arrow_table(values: list[tuple[Any, ...]]) -> pa.Table:
    schema = pa.schema(
        [("i", pa.int64()), ("s", pa.string()), ("b", pa.bool_()), ("l", pa.list_(pa.int64()))]
    )
    return pa.Table.from_pylist(
        [dict(zip(schema.names, row, strict=True)) for row in values], schema=schema
    )


@settings(max_examples=60, deadline=None)
@given(values=rows, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_arrow_fingerprint_ignores_chunking(values: list[tuple[Any, ...]], cuts: list[int]) -> None:
    table = arrow_table(values)
    bounds = sorted({0, len(values), *(c for c in cuts if c <= len(values))})
    pieces = [table.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    chunked = pa.concat_tables(pieces) if pieces else table
    assert fingerprint_object(chunked) == fingerprint_object(table)
    assert fingerprint_object(table.combine_chunks()) == fingerprint_object(table)
    for name in table.column_names:
        assert fingerprint_object(chunked[name]) == fingerprint_object(table[name].combine_chunks())


def test_arrow_is_sensitive_to_values_validity_and_names() -> None:
    table = arrow_table([(1, "a", True, [1]), (None, None, None, None), (3, "c", False, [])])
    variants = [
        table,
        arrow_table([(1, "a", True, [1]), (0, None, None, None), (3, "c", False, [])]),
        arrow_table([(1, "a", True, [1]), (None, "", None, None), (3, "c", False, [])]),
        arrow_table([(1, "a", True, [1]), (None, None, False, None), (3, "c", False, [])]),
        arrow_table([(1, "a", True, [1]), (None, None, None, []), (3, "c", False, [])]),
        arrow_table([(1, "a", True, [1, 0]), (None, None, None, None), (3, "c", False, [])]),
        table.rename_columns(["i", "s", "b", "m"]),
        table.slice(1),
    ]
    assert len({fingerprint_object(v) for v in variants}) == len(variants)


def test_bytes_under_arrow_nulls_are_ignored() -> None:
    validity = pa.py_buffer(bytes([0b101]))
    one = pa.Array.from_buffers(pa.int64(), 3, [validity, pa.py_buffer(np.array([1, 7, 3]))])
    two = pa.Array.from_buffers(pa.int64(), 3, [validity, pa.py_buffer(np.array([1, 9, 3]))])
    assert one.to_pylist() == two.to_pylist() == [1, None, 3]
    assert fingerprint_object(one) == fingerprint_object(two)


def test_arrow_string_flavours_and_record_batches_agree() -> None:
    small = pa.table({"s": pa.array(["x", None, "yz"], pa.string())})
    large = pa.table({"s": pa.array(["x", None, "yz"], pa.large_string())})
    view = pa.table({"s": pa.array(["x", None, "yz"], pa.string_view())})
    assert fingerprint_object(small) == fingerprint_object(large) == fingerprint_object(view)
    assert fingerprint_object(small.to_batches()[0]) == fingerprint_object(small)
    encoded = pa.table({"s": pa.array(["x", None, "yz"]).dictionary_encode()})
    assert fingerprint_object(encoded) != fingerprint_object(small)  # the type differs


def test_nested_and_map_columns_are_supported() -> None:
    map_type = pa.map_(pa.string(), pa.int64())
    table = pa.table(
        {
            "st": pa.array([{"p": 1, "q": "a"}, None, {"p": 3, "q": None}]),
            "m": pa.array([[("k", 1)], None, []], type=map_type),
        }
    )
    fingerprint = fingerprint_object(table)
    assert fingerprint is not None
    assert fingerprint_object(pa.concat_tables([table.slice(0, 1), table.slice(1)])) == fingerprint
