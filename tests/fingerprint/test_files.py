"""Fingerprints of bytes, files and directory trees (threadline.fingerprint.files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import blake3
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.files import TREE, b3, make_tree, write

from threadline.errors import NotFound, UsageError
from threadline.fingerprint import (
    fingerprint_bytes,
    fingerprint_directory,
    fingerprint_file,
    fingerprint_object,
    fingerprint_path,
)

EMPTY_BLAKE3 = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
MIB = 1 << 20

fixed_examples = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


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
