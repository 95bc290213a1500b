"""The file fingerprint cache: hits, misses, the racy-timestamp rule, persistence, fork."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.support.files import PAST_NS, b3, write

from threadline.errors import StoreUnavailable, UsageError
from threadline.fingerprint import (
    FingerprintCache,
    fingerprint_file,
    hashing,
)


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


def test_only_files_of_persist_from_bytes_or_more_are_kept_in_the_file(tmp_path: Path) -> None:
    small = write(tmp_path / "small.bin", b"s" * 99)
    large = write(tmp_path / "large.bin", b"l" * 100)
    db = tmp_path / "fingerprints.db"
    with FingerprintCache(db, persist_from=100) as cache:
        fingerprint_file(small, cache=cache)
        fingerprint_file(large, cache=cache)
        assert cache.stats().stored == 2  # both remembered in memory
    with FingerprintCache(db, persist_from=100) as later:  # another run: memory empty
        assert fingerprint_file(large, cache=later) == b3(b"l" * 100)
        assert later.stats().hits == 1
        assert fingerprint_file(small, cache=later) == b3(b"s" * 99)
        assert (later.stats().hits, later.stats().misses) == (1, 1)


def test_a_cache_opened_lazily_opens_its_file_for_the_first_file_it_keeps(
    tmp_path: Path,
) -> None:
    db = tmp_path / "cache" / "fingerprints.db"
    cache = FingerprintCache(db, persist_from=100, open_lazily=True)
    assert not db.parent.exists()
    fingerprint_file(write(tmp_path / "small.bin", b"s"), cache=cache)
    assert not db.parent.exists(), "a file below persist_from needs no SQLite file"
    fingerprint_file(write(tmp_path / "large.bin", b"l" * 100), cache=cache)
    assert db.is_file()
    cache.close()
    with FingerprintCache(db) as later:
        assert fingerprint_file(tmp_path / "large.bin", cache=later) == b3(b"l" * 100)
        assert later.stats().hits == 1


def test_a_cache_opened_lazily_whose_file_cannot_open_goes_on_in_memory(tmp_path: Path) -> None:
    blocker = write(tmp_path / "not-a-folder", b"a file where the cache folder would be")
    cache = FingerprintCache(blocker / "fingerprints.db", open_lazily=True)
    data = write(tmp_path / "data.bin", b"content")
    assert fingerprint_file(data, cache=cache) == b3(b"content")
    assert fingerprint_file(data, cache=cache) == b3(b"content")
    stats = cache.stats()
    assert (stats.hits, stats.stored, stats.persist_errors) == (1, 1, 1)


def test_persist_from_must_be_a_size() -> None:
    with pytest.raises(UsageError, match="persist_from"):
        FingerprintCache(persist_from=-1)


def test_unreadable_cache_file_names_the_path(tmp_path: Path) -> None:
    db = write(tmp_path / "fingerprints.db", b"this is not a SQLite database" * 100)
    with pytest.raises(StoreUnavailable, match=r"fingerprints\.db"):
        FingerprintCache(db)


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_hashes_and_uses_the_cache(tmp_path: Path) -> None:
    # The parent warms blake3's shared thread pool and the SQLite connection; a forked child
    # must neither wait forever on the pool's vanished threads nor share the connection.
    # (Files as large as those hashed on several threads.)
    size = hashing._THREADED_MIN
    big = write(tmp_path / "big.bin", os.urandom(size))
    cache = FingerprintCache(tmp_path / "fingerprints.db")
    expected = fingerprint_file(big, cache=cache)
    other = write(tmp_path / "other.bin", os.urandom(size))
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
