"""Captured processes remember the fingerprints of large files across runs
(:mod:`threadline.capture.file_memory`), in the user's cache folder (each test has its own)."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from tests.support.files import PAST_NS
from tests.support.runner import Project

from threadline.capture import file_memory
from threadline.capture.file_memory import LARGE_FILE, forget_large_files, remember_large_files
from threadline.fingerprint import FingerprintCache, default_cache, fingerprint_file
from threadline.fingerprint.cache import set_default_cache

#: Reads the .npy file named on its command line (numpy's load is hooked).
READ = "import sys\nimport numpy as np\nprint(int(np.load(sys.argv[1], mmap_mode='r')[:8].sum()))\n"
SENTINEL = "b3:" + "ab" * 32


def large_npy(path: Path, size: int) -> Path:
    """A .npy file of ``size`` bytes or a little more (sparse: quick to make), last modified
    long ago (outside the cache's racy window)."""
    np = pytest.importorskip("numpy")
    np.lib.format.open_memmap(path, mode="w+", dtype="u1", shape=(size,)).flush()
    os.utime(path, ns=(PAST_NS, PAST_NS))
    return path


def memory_file() -> Path:
    cache = os.environ["XDG_CACHE_HOME"]  # the test's own (tests/conftest.py)
    return Path(cache) / "threadline" / file_memory.FILE_NAME


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    project = Project(root=root.resolve(), db=tmp_path / "lineage.db")
    project.write("read.py", READ)
    return project


def test_a_later_run_takes_a_large_files_version_from_the_memory(project: Project) -> None:
    big = large_npy(project.root / "big.npy", LARGE_FILE)
    project.python("read.py", "big.npy")
    with closing(sqlite3.connect(memory_file())) as conn:
        rows = conn.execute("SELECT size, fingerprint FROM file_fingerprints_v1").fetchall()
        assert rows == [(big.stat().st_size, fingerprint_file(big, cache=None))]
        # What the next run reads from the memory, not from the file's bytes:
        conn.execute("UPDATE file_fingerprints_v1 SET fingerprint = ?", (SENTINEL,))
        conn.commit()
    project.python("read.py", "big.npy")
    versions = {v.version for v in project.graph().versions_of("dataset:big.npy")}
    assert versions == {fingerprint_file(big, cache=None), SENTINEL}


def test_a_large_file_changed_since_is_hashed_again(project: Project) -> None:
    big = large_npy(project.root / "big.npy", LARGE_FILE)
    project.python("read.py", "big.npy")
    with big.open("r+b") as handle:  # same size, new bytes, and a new mtime and ctime
        handle.seek(-1, os.SEEK_END)
        handle.write(b"\x01")
    os.utime(big, ns=(PAST_NS + 10**9, PAST_NS + 10**9))
    project.python("read.py", "big.npy")
    graph = project.graph()
    assert graph.latest("dataset:big.npy").version == fingerprint_file(big, cache=None)
    assert len(graph.versions_of("dataset:big.npy")) == 2


def test_small_files_leave_no_memory_file(project: Project) -> None:
    large_npy(project.root / "small.npy", 1024)
    project.python("read.py", "small.npy")
    assert project.graph().versions_of("dataset:small.npy")
    assert not memory_file().exists()


def test_a_programs_own_default_cache_is_kept() -> None:
    own = FingerprintCache()
    previous = set_default_cache(own)
    try:
        assert remember_large_files() is None
        assert default_cache() is own
    finally:
        set_default_cache(previous)


def test_stopping_capture_puts_the_cache_it_replaced_back() -> None:
    before = default_cache()
    remembered = remember_large_files()
    assert remembered is not None
    try:
        installed = default_cache()
        assert installed is remembered.cache
        assert installed is not None
        assert installed.persist_from == LARGE_FILE
        assert installed.path == memory_file()
    finally:
        forget_large_files(remembered)
    assert default_cache() is before
