"""The SQLite connection set-up shared by the store and ``threadline migrate``."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from threadline.store import sqlite_engine
from threadline.store.checkpointer import BACKSTOP


def pragma(engine: sa.Engine, name: str) -> object:
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_the_writer_gets_its_cache_and_checkpoint_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    writer, reader = sqlite_engine.write_engine(url), sqlite_engine.read_engine(url)
    try:
        for engine in (writer, reader):
            assert pragma(engine, "journal_mode") == "wal"
            assert pragma(engine, "busy_timeout") == sqlite_engine.BUSY_TIMEOUT_MS
            assert pragma(engine, "foreign_keys") == 1
        assert pragma(writer, "cache_size") == -sqlite_engine.WRITE_CACHE_KIB
        # The store's thread checkpoints every CHECKPOINT_PAGES; the writer only as a backstop.
        assert pragma(writer, "wal_autocheckpoint") == sqlite_engine.CHECKPOINT_PAGES * BACKSTOP
        assert pragma(reader, "cache_size") != -sqlite_engine.WRITE_CACHE_KIB
    finally:
        writer.dispose()
        reader.dispose()


def test_a_write_transaction_holds_the_lock_from_its_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    writer = sqlite_engine.write_engine(url)
    other = sa.create_engine(url)
    try:
        with writer.begin(), other.connect() as second:
            # BEGIN IMMEDIATE took the write lock before any statement ran: a second writer
            # that will not wait is refused at once.
            second.exec_driver_sql("PRAGMA busy_timeout=0")
            with pytest.raises(sa.exc.OperationalError, match="locked"):
                second.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        writer.dispose()
        other.dispose()
