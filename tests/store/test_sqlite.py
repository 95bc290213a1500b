"""The store contract on SQLite, plus what only a file-backed store can get wrong."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.store.contract import StoreContract, event

from threadline.errors import SchemaTooNew, StoreUnavailable
from threadline.store import open_store
from threadline.store.sql import SqlStore


class TestSqliteStore(StoreContract):
    __test__ = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqlStore]:
        opened = open_store(tmp_path / "lineage.db")
        yield opened
        opened.close()

    @pytest.fixture
    def opener(self, tmp_path: Path) -> Callable[[], SqlStore]:
        return functools.partial(open_store, str(tmp_path / "lineage.db"))


def test_wal_mode_and_default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("THREADLINE_STORE", raising=False)
    store = open_store()
    store.close()
    db = tmp_path / ".threadline" / "lineage.db"
    assert db.exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_from_a_newer_threadline_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    open_store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE tl_meta SET value = '999' WHERE key = 'schema_version'")
    before = db.read_bytes()
    with pytest.raises(SchemaTooNew, match="upgrade threadline"):
        open_store(db)
    assert db.read_bytes() == before


@pytest.mark.parametrize("content", [b"hello, not a database at all" * 10, b"\x00" * 4096])
def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "junk.db"
    db.write_bytes(content)
    with pytest.raises(StoreUnavailable):
        open_store(db)
    assert db.read_bytes() == content


def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="directory"):
        open_store(tmp_path)


def test_durable_append_and_sync(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d.db")
    store.append_batch([event(1)], durable=True)
    store.sync()
    store.close()
    assert open_store(tmp_path / "d.db").counts()["events"] == 1
