"""The embedded SQLite store: WAL, one writer at a time via ``BEGIN IMMEDIATE``.

``BEGIN IMMEDIATE`` takes the database's write lock when the transaction starts, so the read of
the chain head and the append that follows cannot interleave with another process's append;
``busy_timeout`` makes the other writers wait instead of failing.  Reads use a separate engine
with ordinary deferred transactions so they never take the write lock.

Durability: ``synchronous=NORMAL`` (fsync at checkpoints) keeps appends fast; a durable append
switches the writing connection to ``synchronous=FULL`` so that its commit is fsynced.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, QueuePool

from threadline.errors import StoreUnavailable
from threadline.store.sql import SqlStore

BUSY_TIMEOUT_MS = 60_000
WRITE_CACHE_KIB = 65_536
CHECKPOINT_PAGES = 10_000
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes the WAL file is truncated to after a checkpoint


def _configure(engine: Engine, *, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's begin event, not pysqlite, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if immediate:
            # The writer touches index pages all over the file: a 64 MiB page cache (allocated
            # as used) keeps them, and checkpointing every ~40 MiB of WAL rather than every 4
            # copies a page that many batches rewrote only once.  Both chosen by measuring
            # bench/bench_ingest.py on stores grown to 160k events.
            cursor.execute(f"PRAGMA cache_size=-{WRITE_CACHE_KIB}")
            cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
            cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class SqliteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        path = sa.engine.make_url(url).database
        if not path or path == ":memory:":
            raise StoreUnavailable("an SQLite store needs a file path (sqlite:///path/lineage.db)")
        self.path = Path(path)
        _check_file(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create the folder of store {self.path}: {exc.strerror or exc}"
            ) from exc
        write = sa.create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=0)
        read = sa.create_engine(url, poolclass=NullPool if os.name == "nt" else QueuePool)
        _configure(write, immediate=True)
        _configure(read, immediate=False)
        super().__init__(url, read, write)

    def _insert(self, table: sa.Table) -> Any:
        return sqlite_dialect.insert(table)

    @contextlib.contextmanager
    def _write_connection(self, durable: bool) -> Iterator[Connection]:
        with self._write.connect() as conn:
            # PRAGMA synchronous cannot change inside a transaction, and SQLAlchemy would
            # autobegin one: talk to the DBAPI connection directly.
            raw = conn.connection.dbapi_connection
            assert raw is not None
            if durable:
                raw.execute("PRAGMA synchronous=FULL")
            try:
                with conn.begin():
                    yield conn
            finally:
                if durable:
                    raw.execute("PRAGMA synchronous=NORMAL")

    def sync(self) -> None:
        """Make every committed transaction durable (WAL mode fsyncs the log at a checkpoint)."""
        with self._write_lock, self._write.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _check_file(path: Path) -> None:
    """Fail with a clear message before SQLite turns a stray file into a store."""
    if path.is_dir():
        raise StoreUnavailable(f"store path {path} is a directory, not an SQLite file")
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with path.open("rb") as handle:
            magic = handle.read(16)
    except OSError as exc:
        raise StoreUnavailable(f"cannot read store {path}: {exc.strerror}") from exc
    if magic != b"SQLite format 3\x00":
        raise StoreUnavailable(
            f"{path} is not an SQLite database (was it written by something else?)"
        )
