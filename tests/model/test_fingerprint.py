"""Fingerprints: b3sum compatibility, the file cache, directory Merkle trees, in-memory data."""

from __future__ import annotations

import itertools
import json
import os
import select
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blake3
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from threadline.errors import NotFound, StoreUnavailable, UsageError
from threadline.fingerprint import (
    FingerprintCache,
    fingerprint_bytes,
    fingerprint_directory,
    fingerprint_file,
    fingerprint_object,
    fingerprint_path,
    set_default_cache,
)

EMPTY_BLAKE3 = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
PAST_NS = 1_600_000_000 * 10**9  # September 2020: far outside the racy window.
MIB = 1 << 20

fixed_examples = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(autouse=True)
def private_default_cache() -> Iterator[FingerprintCache]:
    """Each test gets its own default cache so that no hit leaks from one test to another."""
    cache = FingerprintCache()
    previous = set_default_cache(cache)
    try:
        yield cache
    finally:
        set_default_cache(previous)


def b3(data: bytes) -> str:
    return "b3:" + blake3.blake3(data).hexdigest()


def write(path: Path, data: bytes, *, mtime_ns: int | None = PAST_NS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


# --- files and bytes ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 1023, MIB - 1, MIB, 3 * MIB + 17])
def test_file_fingerprint_is_plain_blake3_on_both_read_paths(tmp_path: Path, size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = write(tmp_path / "blob", data)
    assert fingerprint_file(path, cache=None) == b3(data)
    assert fingerprint_bytes(data) == b3(data)


def test_empty_file_matches_the_published_blake3_vector(tmp_path: Path) -> None:
    assert fingerprint_file(write(tmp_path / "empty", b""), cache=None) == f"b3:{EMPTY_BLAKE3}"


@fixed_examples
@given(data=st.binary(max_size=4096))
def test_bytes_file_and_object_agree(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "blob", data)
    expected = b3(data)
    assert fingerprint_file(path, cache=None) == expected
    assert fingerprint_bytes(bytearray(data)) == expected
    assert fingerprint_bytes(memoryview(data)) == expected
    assert fingerprint_object(data) == expected


def test_strided_and_typed_memoryviews_hash_their_bytes() -> None:
    matrix = np.arange(24, dtype="<i4").reshape(4, 6)
    assert fingerprint_bytes(matrix.data) == b3(matrix.tobytes())
    strided = matrix[:, ::2]
    assert fingerprint_bytes(strided.data) == b3(strided.tobytes())


def test_file_fingerprint_follows_a_symlink_to_a_file(tmp_path: Path) -> None:
    target = write(tmp_path / "target", b"payload")
    (tmp_path / "link").symlink_to(target)
    assert fingerprint_file(tmp_path / "link", cache=None) == b3(b"payload")


# --- the cache ------------------------------------------------------------------------------


def test_unchanged_file_is_answered_from_the_cache(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", b"a,b\n1,2\n")
    cache = FingerprintCache()
    first = fingerprint_file(path, cache=cache)
    second = fingerprint_file(path, cache=cache)
    assert first == second == b3(b"a,b\n1,2\n")
    stats = cache.stats()
    assert (stats.misses, stats.stored, stats.hits) == (1, 1, 1)


def test_the_default_cache_is_used_unless_bypassed(
    tmp_path: Path, private_default_cache: FingerprintCache
) -> None:
    path = write(tmp_path / "data.csv", b"x")
    fingerprint_file(path)
    fingerprint_file(path)
    fingerprint_file(path, cache=None)
    assert private_default_cache.stats().hits == 1


def test_a_size_change_is_a_miss(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", b"1234")
    cache = FingerprintCache()
    fingerprint_file(path, cache=cache)
    write(path, b"12345")
    assert fingerprint_file(path, cache=cache) == b3(b"12345")
    assert cache.stats().hits == 0


def test_same_size_rewrite_with_a_new_mtime_is_a_miss(tmp_path: Path) -> None:
    path = write(tmp_path / "data.csv", b"aaaa")
    cache = FingerprintCache()
    fingerprint_file(path, cache=cache)
    write(path, b"bbbb", mtime_ns=PAST_NS + 1)
    assert fingerprint_file(path, cache=cache) == b3(b"bbbb")


def test_rewrite_that_restores_the_old_mtime_is_caught_by_ctime(tmp_path: Path) -> None:
    # What `rsync -t` or `touch -r` can do: new bytes, same size, the old mtime put back.
    path = write(tmp_path / "data.csv", b"aaaa")
    cache = FingerprintCache()
    fingerprint_file(path, cache=cache)
    before = os.stat(path).st_ctime_ns
    write(path, b"bbbb")
    if os.stat(path).st_ctime_ns == before:
        pytest.skip("this filesystem's ctime did not move within the test")
    assert fingerprint_file(path, cache=cache) == b3(b"bbbb")


def test_recently_modified_file_is_not_remembered(tmp_path: Path) -> None:
    path = write(tmp_path / "fresh.csv", b"just written", mtime_ns=None)
    cache = FingerprintCache()
    assert fingerprint_file(path, cache=cache) == b3(b"just written")
    assert fingerprint_file(path, cache=cache) == b3(b"just written")
    stats = cache.stats()
    assert (stats.hits, stats.stored, stats.racy) == (0, 0, 2)
    assert len(cache) == 0


def test_a_future_mtime_is_racy_too(tmp_path: Path) -> None:
    future = 4_000_000_000 * 10**9
    path = write(tmp_path / "skewed", b"x", mtime_ns=future)
    cache = FingerprintCache()
    fingerprint_file(path, cache=cache)
    assert cache.stats().racy == 1


def test_memory_tier_is_bounded_lru(tmp_path: Path) -> None:
    cache = FingerprintCache(max_entries=2)
    paths = [write(tmp_path / f"f{i}", bytes([i])) for i in range(3)]
    for path in paths:
        fingerprint_file(path, cache=cache)
    assert len(cache) == 2
    fingerprint_file(paths[0], cache=cache)  # evicted first, so hashed again
    assert cache.stats().hits == 0
    fingerprint_file(paths[2], cache=cache)
    assert cache.stats().hits == 1


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(UsageError, match="max_entries"):
        FingerprintCache(max_entries=0)


def test_persistent_cache_is_reused_by_another_process(tmp_path: Path) -> None:
    data_file = write(tmp_path / "big.bin", b"x" * 1000)
    db = tmp_path / ".threadline" / "fingerprints.db"
    with FingerprintCache(db) as cache:
        expected = fingerprint_file(data_file, cache=cache)
    script = textwrap.dedent(
        f"""
        from threadline.fingerprint import FingerprintCache, fingerprint_file
        with FingerprintCache({str(db)!r}) as cache:
            print(fingerprint_file({str(data_file)!r}, cache=cache), cache.stats().hits)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == [expected, "1"]


def test_persistent_entry_is_not_served_for_a_changed_file(tmp_path: Path) -> None:
    data_file = write(tmp_path / "data.bin", b"old!")
    db = tmp_path / "fingerprints.db"
    with FingerprintCache(db) as cache:
        fingerprint_file(data_file, cache=cache)
    write(data_file, b"new!", mtime_ns=PAST_NS + 5)
    with FingerprintCache(db) as cache:
        assert fingerprint_file(data_file, cache=cache) == b3(b"new!")
        assert cache.stats().hits == 0


def test_unreadable_cache_file_names_the_path(tmp_path: Path) -> None:
    db = write(tmp_path / "fingerprints.db", b"this is not a SQLite database" * 100)
    with pytest.raises(StoreUnavailable, match=r"fingerprints\.db"):
        FingerprintCache(db)


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_hashes_and_uses_the_cache(tmp_path: Path) -> None:
    # The parent warms blake3's shared thread pool and the SQLite connection; a forked child
    # must neither wait forever on the pool's vanished threads nor share the connection.
    big = write(tmp_path / "big.bin", os.urandom(2 * MIB))
    cache = FingerprintCache(tmp_path / "fingerprints.db")
    expected = fingerprint_file(big, cache=cache)
    other = write(tmp_path / "other.bin", os.urandom(2 * MIB))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            cache.clear_memory()
            line = f"{fingerprint_file(big, cache=cache)} {cache.stats().hits} "
            line += fingerprint_file(other, cache=cache)
            os.write(write_end, line.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            pytest.fail("the forked child hung while hashing")
        reply = os.read(read_end, 1000).decode().split()
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
        cache.close()
    assert reply == [expected, "1", b3(other.read_bytes())]


# --- paths and directories ------------------------------------------------------------------


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for relative, data in files.items():
        write(root / relative, data)
    return root


TREE = {"a.csv": b"1,2\n", "sub/b.txt": b"hello", "sub/deeper/c.bin": b"\x00\x01"}


def test_directory_ignores_creation_order(tmp_path: Path) -> None:
    first = make_tree(tmp_path / "one", TREE)
    second = make_tree(tmp_path / "two", dict(reversed(list(TREE.items()))))
    assert fingerprint_directory(first) == fingerprint_directory(second)


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "a.csv").rename(root / "z.csv"),
        lambda root: (root / "sub/b.txt").rename(root / "b.txt"),
        lambda root: write(root / "sub/deeper/c.bin", b"\x00\x02"),
        lambda root: (root / "empty").mkdir(),
        lambda root: (root / "sub/deeper/c.bin").unlink(),
    ],
    ids=["rename", "move", "edit", "empty-dir", "delete"],
)
def test_directory_changes_with_its_content(tmp_path: Path, change: Any) -> None:
    root = make_tree(tmp_path / "tree", TREE)
    before = fingerprint_directory(root)
    change(root)
    assert fingerprint_directory(root) != before


def test_empty_directories_are_deterministic_and_distinct(tmp_path: Path) -> None:
    (tmp_path / "e1").mkdir()
    (tmp_path / "e2" / "inner").mkdir(parents=True)
    (tmp_path / "e3" / "inner").mkdir(parents=True)
    assert fingerprint_directory(tmp_path / "e2") == fingerprint_directory(tmp_path / "e3")
    assert fingerprint_directory(tmp_path / "e1") != fingerprint_directory(tmp_path / "e2")


def test_symlinks_hash_their_target_string_and_are_not_followed(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside.txt", b"v1")
    root = make_tree(tmp_path / "tree", {"x": b"x"})
    (root / "link").symlink_to(outside)
    before = fingerprint_directory(root)
    write(outside, b"v2 is longer")
    assert fingerprint_directory(root) == before
    (root / "link").unlink()
    (root / "link").symlink_to(tmp_path / "elsewhere.txt")  # dangling is fine
    assert fingerprint_directory(root) != before


def test_directory_never_collides_with_a_file_of_its_node_bytes(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree", {"f": b"content"})
    # The exact bytes the directory node feeds its hasher, written out as a file.
    node = (1).to_bytes(8, "little") + b"f" + (1).to_bytes(8, "little") + b"f"
    node += blake3.blake3(b"content").digest()
    impostor = write(tmp_path / "impostor", node)
    assert fingerprint_directory(root) != fingerprint_file(impostor, cache=None)


def test_directory_layout_matches_the_documentation(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree", {"b.txt": b"y", "a.txt": b"x"})
    (root / "sub").mkdir()
    (root / "ln").symlink_to("a.txt")

    def node(entries: list[tuple[bytes, bytes, bytes]]) -> bytes:
        hasher = blake3.blake3(derive_key_context="threadline fingerprint v1 directory")
        hasher.update(len(entries).to_bytes(8, "little"))
        for name, kind, digest in sorted(entries):
            hasher.update(kind + len(name).to_bytes(8, "little") + name + digest)
        return bytes(hasher.digest())

    link = blake3.blake3(b"a.txt", derive_key_context="threadline fingerprint v1 symlink")
    expected = node(
        [
            (b"a.txt", b"f", blake3.blake3(b"x").digest()),
            (b"b.txt", b"f", blake3.blake3(b"y").digest()),
            (b"ln", b"l", link.digest()),
            (b"sub", b"d", node([])),
        ]
    )
    assert fingerprint_directory(root) == "b3:" + expected.hex()


def test_path_dispatches_on_what_is_there(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree", TREE)
    assert fingerprint_path(root) == fingerprint_directory(root)
    assert fingerprint_path(root / "a.csv") == b3(TREE["a.csv"])


def test_missing_path_raises_not_found_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "data.csv"
    for function in (fingerprint_path, fingerprint_file, fingerprint_directory):
        with pytest.raises(NotFound) as caught:
            function(missing)
        assert str(missing) in caught.value.message
        assert "\n" not in caught.value.message


def test_broken_symlink_is_reported_as_such(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(NotFound, match="broken symbolic link"):
        fingerprint_path(tmp_path / "link")


def test_wrong_kind_of_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        fingerprint_file(tmp_path)
    with pytest.raises(UsageError, match="not a directory"):
        fingerprint_directory(write(tmp_path / "f", b""))


# --- numpy ----------------------------------------------------------------------------------


def test_unsupported_objects_give_none() -> None:
    assert fingerprint_object(object()) is None
    assert fingerprint_object("text") is None
    assert fingerprint_object([1, 2, 3]) is None
    assert fingerprint_object(np.array([object()], dtype=object)) is None
    assert fingerprint_object(pl.DataFrame({"o": [object()]}, schema={"o": pl.Object})) is None


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


# --- pandas ---------------------------------------------------------------------------------


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


# --- pyarrow and polars ---------------------------------------------------------------------

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


def test_polars_frame_equals_its_arrow_table_and_is_sensitive() -> None:
    frame = pl.DataFrame({"a": [1, 2, None], "s": ["x", None, "z"], "f": [0.5, 1.5, 2.5]})
    assert fingerprint_object(frame) == fingerprint_object(frame.to_arrow())
    rechunked = pl.concat([frame.head(1), frame.tail(2)], rechunk=False)
    assert fingerprint_object(rechunked) == fingerprint_object(frame)
    assert fingerprint_object(frame.with_columns(pl.col("a").fill_null(0))) != (
        fingerprint_object(frame)
    )
    assert fingerprint_object(frame["s"]) != fingerprint_object(frame["s"].alias("t"))


# --- estimators -----------------------------------------------------------------------------


def training_data(
    seed: int = 0, rows: int = 200
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 3))
    return features, (features[:, 0] + 0.3 * features[:, 1] > 0).astype(int)


def test_estimator_fitted_unfitted_and_refit() -> None:
    features, target = training_data()
    unfitted = fingerprint_object(LogisticRegression())
    fitted = fingerprint_object(LogisticRegression().fit(features, target))
    refit_same = fingerprint_object(LogisticRegression().fit(features, target))
    other_params = fingerprint_object(LogisticRegression(C=0.1).fit(features, target))
    other_data = fingerprint_object(LogisticRegression().fit(*training_data(seed=1)))
    assert unfitted is not None
    assert fitted == refit_same
    assert len({unfitted, fitted, other_params, other_data}) == 4


def test_pipeline_recurses_into_its_steps() -> None:
    features, target = training_data()
    base = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, target)
    changed = make_pipeline(StandardScaler(with_mean=False), LogisticRegression())
    assert fingerprint_object(base) != fingerprint_object(changed.fit(features, target))
    again = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, target)
    assert fingerprint_object(base) == fingerprint_object(again)


def test_tree_models_hash_their_learned_trees() -> None:
    features, target = training_data()
    forest = RandomForestClassifier(n_estimators=3, random_state=0)
    first = fingerprint_object(forest.fit(features, target))
    assert first == fingerprint_object(
        RandomForestClassifier(n_estimators=3, random_state=0).fit(features, target)
    )
    flipped = RandomForestClassifier(n_estimators=3, random_state=0).fit(features, 1 - target)
    assert fingerprint_object(flipped) != first


class Duck:
    """A minimal sklearn-style estimator with an attribute that has no canonical encoding."""

    def __init__(self, tags: frozenset[str] = frozenset({"b", "a"})) -> None:
        self.tags = tags

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"tags": self.tags}

    def fit(self, features: Any, target: Any = None) -> Duck:
        self.weights_ = np.asarray(features, dtype=float).mean(axis=0)
        self.opaque_ = object()
        self._private_ = object()
        return self


def test_duck_typed_estimator_skips_unencodable_attributes_deterministically() -> None:
    one = fingerprint_object(Duck().fit([[1.0, 2.0]]))
    two = fingerprint_object(Duck().fit([[1.0, 2.0]]))
    assert one is not None
    assert one == two
    assert fingerprint_object(Duck().fit([[1.0, 2.5]])) != one


# --- determinism across processes, and format pins --------------------------------------------

SAMPLES = textwrap.dedent(
    """
    import json, sys
    import numpy as np, pandas as pd, polars as pl, pyarrow as pa
    from sklearn.ensemble import RandomForestClassifier
    from threadline.fingerprint import fingerprint_directory, fingerprint_object

    class Tagged:
        def __init__(self, tags=frozenset({"beta", "alpha", "gamma"}), table=None):
            self.tags, self.table = tags, table or {"z": 1, "a": 2, "m": 3}
        def get_params(self, deep=True):
            return {"tags": self.tags, "table": self.table}
        def fit(self, X, y=None):
            self.seen_ = {"cols", "rows", "dtypes"}
            return self

    def fingerprints(directory):
        rng = np.random.default_rng(7)
        X = rng.normal(size=(60, 3))
        y = (X[:, 0] > 0).astype(int)
        frame = pd.DataFrame({
            "f": rng.normal(size=5), "s": list("abcde"),
            "o": pd.Series(["x", None, "y", "z", "w"], dtype=object),
            "c": pd.Categorical(list("ppqqp")), "i": pd.array([1, None, 3, 4, 5], dtype="Int64"),
        })
        objects = {
            "bytes": b"threadline",
            "ndarray": np.arange(10, dtype=">i4").reshape(2, 5),
            "strings": np.array(["b", "a", "c"], dtype=object),
            "frame": frame,
            "arrow": pa.table({"s": ["a", None], "l": [[1], None]}),
            "polars": pl.DataFrame({"a": [1, None], "s": ["x", "y"]}),
            "forest": RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y),
            "tagged": Tagged().fit(X),
        }
        out = {name: fingerprint_object(value) for name, value in objects.items()}
        out["directory"] = fingerprint_directory(directory)
        return out

    if __name__ == "__main__":
        print(json.dumps(fingerprints(sys.argv[1]), sort_keys=True))
    """
)


def test_fingerprints_agree_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    script = tmp_path / "samples.py"
    script.write_text(SAMPLES)
    tree = make_tree(tmp_path / "tree", TREE)
    results = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, str(script), str(tree)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        results.append(json.loads(done.stdout))
    assert results[0] == results[1]
    assert all(value is not None for value in results[0].values())
    assert len(set(results[0].values())) == len(results[0])


# Pinned digests: a change here changes every stored fingerprint of that kind.  Only update
# them together with the "v1" in the context strings.
PINNED = {
    "ndarray": "b3:a02d0f99a3f9a3b2e9389012046e3c47ecdca05aa7ae632e611d990a8b053c70",
    "arrow": "b3:fec16b9659930ac40ba12e1e24c5df7e6b22ea86003bb8fe78c15178c2b1c26a",
    "frame": "b3:344745232c5d7521c898f5c5d4fa4b830cd174ae55a7396ad7167eaad1d86f18",
    "directory": "b3:0fb70def1cef9b5ff14d5a334806083ae77c4a4d6519ea989c07d02652fc7e4c",
}


def test_encoding_is_pinned(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", TREE)
    (tree / "empty").mkdir()
    (tree / "link").symlink_to("a.csv")
    actual = {
        "ndarray": fingerprint_object(np.arange(6, dtype="<i8").reshape(2, 3)),
        "arrow": fingerprint_object(pa.table({"i": [1, None], "s": ["a", "bc"]})),
        "frame": fingerprint_object(pd.DataFrame({"i": [1, 2], "f": [0.5, 1.5]})),
        "directory": fingerprint_directory(tree),
    }
    assert actual == PINNED


def test_importing_the_module_loads_no_data_library() -> None:
    script = (
        "import sys, threadline.fingerprint; "
        "print(sorted(m for m in ('numpy', 'pandas', 'pyarrow', 'polars', 'sklearn') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
