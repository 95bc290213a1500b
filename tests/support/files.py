"""Files with known bytes and an old modification time, for the fingerprint tests."""

from __future__ import annotations

import os
from pathlib import Path

import blake3

PAST_NS = 1_600_000_000 * 10**9  # September 2020: far outside the racy window.
TREE = {"a.csv": b"1,2\n", "sub/b.txt": b"hello", "sub/deeper/c.bin": b"\x00\x01"}


def b3(data: bytes) -> str:
    return "b3:" + blake3.blake3(data).hexdigest()


def write(path: Path, data: bytes, *, mtime_ns: int | None = PAST_NS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for relative, data in files.items():
        write(root / relative, data)
    return root
