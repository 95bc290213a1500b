"""Fingerprint throughput against the blake3 package itself and against writing Parquet.

Run: ``.venv/bin/python bench/bench_fingerprint.py``.  ``BENCH_FILE_MB`` sets the test file's
size (default 1024); ``BENCH_ROWS`` the frame's rows (default 1,000,000).  Temporary files go
under ``/tmp`` and are removed afterwards.

Figures are best-of-N wall times with a warm page cache: the file is hashed once before timing,
so every contender reads from memory and the comparison is between hashing strategies, not
disks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import blake3
import numpy as np
import pandas as pd

from threadline.fingerprint import FingerprintCache, fingerprint_file, fingerprint_object

GIB = 1 << 30
PAST_NS = 1_600_000_000 * 10**9  # an mtime far outside the cache's racy window


def best_of(runs: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def mean_of(runs: int, action: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        action()
    return (time.perf_counter() - start) / runs


def write_file(path: Path, size: int) -> None:
    # Content does not change BLAKE3's speed; one random block repeated keeps set-up quick.
    block = np.random.default_rng(0).bytes(64 << 20)
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            remaining -= handle.write(block[: min(len(block), remaining)])
    # An old mtime lets the cache remember the file (see FingerprintCache's racy rule).
    os.utime(path, ns=(PAST_NS, PAST_NS))


def blake3_best(path: Path) -> str:
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    hasher.update_mmap(str(path))
    return str(hasher.hexdigest())


def plain_read_loop(path: Path) -> str:
    hasher = blake3.blake3()
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            hasher.update(view[:count])
    return str(hasher.hexdigest())


def sample_frame(rows: int, *, object_strings: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}_{'x' * (i % 13)}" for i in range(1000)], dtype=object)
    columns: dict[str, object] = {}
    for i in range(4):
        columns[f"f{i}"] = rng.random(rows)
    for i in range(3):
        columns[f"i{i}"] = rng.integers(0, 1 << 40, rows)
    for i in range(3):
        columns[f"s{i}"] = words[rng.integers(0, len(words), rows)]
    frame = pd.DataFrame(columns)
    if object_strings:
        frame = frame.astype({f"s{i}": object for i in range(3)})
    return frame


def row(name: str, value: str, note: str = "") -> None:
    print(f"  {name:<44} {value:>14}  {note}")


def bench_file(work: Path, size: int) -> None:
    path = work / "blob.bin"
    write_file(path, size)
    runs = max(3, min(20, (4 * GIB) // max(size, 1)))
    expected = blake3_best(path)  # also warms the page cache
    assert fingerprint_file(path, cache=None) == f"b3:{expected}"
    assert plain_read_loop(path) == expected

    ours = best_of(runs, lambda: fingerprint_file(path, cache=None))
    theirs = best_of(runs, lambda: blake3_best(path))
    loop = best_of(max(2, runs // 2), lambda: plain_read_loop(path))
    gib = size / GIB
    print(
        f"\nFile of {size / (1 << 20):.0f} MiB (best of {runs}, warm page cache, "
        f"{os.cpu_count()} CPUs)"
    )
    row("threadline fingerprint_file", f"{gib / ours:.2f} GiB/s", f"{ours * 1e3:.1f} ms")
    row(
        "blake3 update_mmap, AUTO threads (best)",
        f"{gib / theirs:.2f} GiB/s",
        f"{theirs * 1e3:.1f} ms",
    )
    row(
        "plain read() loop, 1 MiB chunks, 1 thread",
        f"{gib / loop:.2f} GiB/s",
        f"{loop * 1e3:.1f} ms",
    )
    row("ours / blake3 best", f"{theirs / ours:.1%}", "target >= 90%")

    cache = FingerprintCache()
    fingerprint_file(path, cache=cache)
    hit = mean_of(10_000, lambda: fingerprint_file(path, cache=cache))
    assert cache.stats().hits >= 10_000
    with FingerprintCache(work / "fingerprints.db") as persistent:
        fingerprint_file(path, cache=persistent)

        def sqlite_hit() -> None:
            persistent.clear_memory()
            fingerprint_file(path, cache=persistent)

        sqlite = mean_of(2_000, sqlite_hit)
    print("\nCache")
    row("memory hit (stat + LRU lookup)", f"{hit * 1e6:.1f} us")
    row("SQLite hit (stat + indexed SELECT)", f"{sqlite * 1e6:.1f} us")
    row("full hash / memory hit", f"{ours / hit:,.0f}x", "target >= 100x")
    row("full hash / SQLite hit", f"{ours / sqlite:,.0f}x")


def bench_frame(work: Path, rows: int) -> None:
    print(f"\nDataFrame {rows:,} rows x 10 columns (4 float64, 3 int64, 3 strings)")
    target = work / "frame.parquet"
    for label, frame in (
        ("str dtype (pandas default)", sample_frame(rows)),
        ("object dtype strings", sample_frame(rows, object_strings=True)),
    ):
        fingerprint_object(frame)  # first call imports pyarrow's compute module
        ours = best_of(5, partial(fingerprint_object, frame))
        parquet = best_of(3, partial(frame.to_parquet, target))
        print(f"  [{label}]")
        row("fingerprint_object(df)", f"{ours * 1e3:.1f} ms")
        row("df.to_parquet(path)", f"{parquet * 1e3:.1f} ms")
        row("fingerprint / to_parquet", f"{ours / parquet:.1%}", "target <= 15%")


def main() -> None:
    size = int(os.environ.get("BENCH_FILE_MB", "1024")) << 20
    rows = int(os.environ.get("BENCH_ROWS", "1000000"))
    work = Path(tempfile.mkdtemp(prefix="threadline-bench-", dir="/tmp"))
    try:
        bench_file(work, size)
        bench_frame(work, rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
