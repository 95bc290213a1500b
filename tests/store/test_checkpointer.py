"""The SQLite store's checkpoints, run on a thread of their own after commits."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from tests.support.events import event

from threadline.store import checkpointer, open_store, sqlite_engine
from threadline.store.base import Cursor
from threadline.store.checkpointer import SETTLE, waiting_pages

PAGE = 4096


def _bulky(n: int) -> dict[str, object]:
    """An event of ~4 KiB: a page of the log each, or so."""
    padding = {
        "_producer": "https://example.com/test",
        "_schemaURL": "https://example.com/padding.json",
        "text": f"{n:08d}" * 500,
    }
    return event(n, run_facets={"padding": padding})


def _checkpointer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "threadline-checkpointer"]


def test_commits_reach_the_database_file_before_the_writers_own_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer's backstop at 4 x 100 pages is never reached: only the thread copies pages.
    monkeypatch.setattr(sqlite_engine, "CHECKPOINT_PAGES", 100)
    path = tmp_path / "lineage.db"
    with open_store(path) as store:
        store.settle()
        before = path.stat().st_size
        store.append_batch([_bulky(n) for n in range(120)])
        deadline = time.monotonic() + 10
        while path.stat().st_size < before + 100 * PAGE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size >= before + 100 * PAGE
        assert len(store.read_after(Cursor(0), 1000)) == 120
        store.settle()
        # Everything copied and nobody reading the log: a commit starts it over from its first
        # page (a read snapshot left open anywhere in the store would keep it growing).
        deadline = time.monotonic() + 10
        while _log_pages(path) > 50 and time.monotonic() < deadline:
            store.append_batch([event(1_000 + int(time.monotonic() * 1000))])
            time.sleep(0.2)
        assert _log_pages(path) <= 50
    assert not _checkpointer_threads()


def _log_pages(path: Path) -> int:
    """Pages the log holds now (a checkpoint from a connection of the test's own)."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
        return int(connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0][1])


def test_closing_the_store_stops_its_checkpointer(tmp_path: Path) -> None:
    store = open_store(tmp_path / "lineage.db")
    store.append_batch([event(1)])
    assert _checkpointer_threads()
    store.close()
    assert not _checkpointer_threads()


def test_a_removed_store_file_is_not_made_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lineage.db"
    _log_with_pages(path, 20)
    path.unlink()
    checkpoints = checkpointer.Checkpointer(path, 10)
    try:
        checkpoints.committed()
        time.sleep(0.3)
        assert not path.exists()
    finally:
        checkpoints.close()


def test_a_store_that_never_wrote_starts_no_thread(tmp_path: Path) -> None:
    path = tmp_path / "lineage.db"
    open_store(path).close()
    before = set(_checkpointer_threads())
    with open_store(path) as store:
        store.read_after(Cursor(0), 10)
        assert set(_checkpointer_threads()) == before


def _log_with_pages(path: Path, rows: int) -> sqlite3.Connection:
    """An SQLite file in WAL mode whose log holds about ``rows`` pages, none copied back."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE IF NOT EXISTS t (x BLOB)")
    connection.executemany("INSERT INTO t VALUES (?)", [(bytes(3000),)] * rows)
    return connection


def test_the_pages_waiting_are_read_from_the_log_index(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    shm = tmp_path / "x.db-shm"
    with contextlib.closing(_log_with_pages(path, 50)) as connection:
        waiting = waiting_pages(shm)
        _busy, pages, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert waiting == pages >= 50
        assert copied == pages
        assert waiting_pages(shm) == 0
        connection.executemany("INSERT INTO t VALUES (?)", [(bytes(3000),)] * 10)
        assert 10 <= waiting_pages(shm) < pages  # type: ignore[operator]  # started over
    assert waiting_pages(tmp_path / "missing-shm") is None
    (tmp_path / "garbage-shm").write_bytes(b"not an index")
    assert waiting_pages(tmp_path / "garbage-shm") is None


def test_a_log_below_the_checkpoint_size_is_left_to_grow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As before the thread: a short pipeline's store is not checkpointed (nor fsynced).
    monkeypatch.setattr(sqlite_engine, "CHECKPOINT_PAGES", 1000)
    path = tmp_path / "lineage.db"
    with open_store(path) as store:
        store.settle()
        before = path.stat().st_size
        store.append_batch([_bulky(n) for n in range(120)])
        time.sleep(10 * SETTLE)
        assert path.stat().st_size == before
        assert waiting_pages(tmp_path / "lineage.db-shm") >= 100  # type: ignore[operator]
