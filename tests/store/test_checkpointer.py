"""The SQLite store's checkpoints, run on a thread of their own after commits."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.support.events import event

from threadline.store import checkpointer, open_store, sqlite_engine
from threadline.store.base import Cursor
from threadline.store.checkpointer import MAX_INTERVAL, MIN_INTERVAL, next_interval
from threadline.store.sql import SqlStore

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


@contextlib.contextmanager
def _bulky_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pages: int
) -> Iterator[tuple[SqlStore, Path, int]]:
    """A store its thread checkpoints every ``pages`` pages (its writer at four times that),
    once 120 events of ~4 KiB each were appended; with its file's size before them."""
    monkeypatch.setattr(sqlite_engine, "CHECKPOINT_PAGES", pages)
    monkeypatch.setattr(checkpointer, "FIRST_INTERVAL", 0.05)
    path = tmp_path / "lineage.db"
    with open_store(path) as store:
        store.settle()
        before = path.stat().st_size
        store.append_batch([_bulky(n) for n in range(120)])
        yield store, path, before


def test_commits_reach_the_database_file_before_the_writers_own_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer's backstop at 4 x 100 pages is never reached: only the thread copies pages.
    with _bulky_store(tmp_path, monkeypatch, 100) as (store, path, before):
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
    monkeypatch.setattr(checkpointer, "FIRST_INTERVAL", 0.01)
    path = tmp_path / "lineage.db"
    # Its log is still there, large enough to be checkpointed: the thread tries.
    (tmp_path / "lineage.db-wal").write_bytes(bytes(2 * checkpointer.FRAME_BYTES))
    checkpoints = checkpointer.Checkpointer(path, 1)
    try:
        checkpoints.committed()
        time.sleep(0.3)
        assert not path.exists()
    finally:
        checkpoints.close()


def test_a_log_that_never_grew_to_the_checkpoint_size_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As before the thread: a short pipeline's store is not checkpointed (nor fsynced).
    with _bulky_store(tmp_path, monkeypatch, 1000) as (_store, path, before):
        time.sleep(0.5)
        assert path.stat().st_size == before


def test_a_store_that_never_wrote_starts_no_thread(tmp_path: Path) -> None:
    path = tmp_path / "lineage.db"
    open_store(path).close()
    before = set(_checkpointer_threads())
    with open_store(path) as store:
        store.read_after(Cursor(0), 10)
        assert set(_checkpointer_threads()) == before


@given(
    interval=st.floats(MIN_INTERVAL, MAX_INTERVAL),
    new_pages=st.integers(-10, 10**7),
    pages=st.integers(1, 10**6),
)
def test_the_interval_is_scaled_toward_the_checkpoint_size_within_bounds(
    interval: float, new_pages: int, pages: int
) -> None:
    after = next_interval(interval, new_pages, pages)
    assert MIN_INTERVAL <= after <= MAX_INTERVAL
    if new_pages <= 0:
        assert after == interval  # nothing learned
    elif new_pages > pages:
        assert after <= interval  # too many pages gathered: checkpoint sooner
    elif new_pages < pages:
        assert after >= interval


def test_the_interval_gathers_about_the_checkpoint_size() -> None:
    assert next_interval(0.5, 2_000, 10_000) == pytest.approx(2.5)
    assert next_interval(0.5, 20_000, 10_000) == pytest.approx(0.25)
