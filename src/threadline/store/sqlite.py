"""The embedded SQLite store: WAL, one writer at a time via ``BEGIN IMMEDIATE``.

``BEGIN IMMEDIATE`` takes the database's write lock when the transaction starts, so the read of
the chain head and the append that follows cannot interleave with another process's append;
``busy_timeout`` makes the other writers wait instead of failing.  Reads use a separate engine
with ordinary deferred transactions so they never take the write lock.  The connection set-up
itself is in :mod:`threadline.store.sqlite_engine`.

Durability: ``synchronous=NORMAL`` (fsync at checkpoints) keeps appends fast; a durable append
switches the writing connection to ``synchronous=FULL`` so that its commit is fsynced.
Checkpoints run on a thread of their own after commits (:mod:`threadline.store.checkpointer`).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from threadline.errors import StoreUnavailable
from threadline.store import sqlite_engine
from threadline.store.checkpointer import Checkpointer
from threadline.store.sql import SqlStore


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
        self._checkpointer = Checkpointer(self.path, sqlite_engine.CHECKPOINT_PAGES)
        super().__init__(url, sqlite_engine.read_engine(url), sqlite_engine.write_engine(url))
        self.archive_dir = self.path.parent.resolve() / "archive"

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
        self._checkpointer.committed()

    def close(self) -> None:
        super().close()  # its last projection commits too
        self._checkpointer.close()

    def sync(self) -> None:
        """Make every committed transaction durable (WAL mode fsyncs the log at a checkpoint)."""
        with self._write_lock, self._write.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _check_file(path: Path) -> None:
    """Fail with a clear message before SQLite turns a stray file into a store.

    The file is read through SQLite, never opened here: closing a descriptor of a file drops
    every POSIX lock this process holds on it, SQLite's own too (another store of this process
    may have it open), and another process's last connection could then check the log into
    the file and delete it under that store.  SQLite shares its locks among its connections.
    """
    if path.is_dir():
        raise StoreUnavailable(f"store path {path} is a directory, not an SQLite file")
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        uri = f"{path.absolute().as_uri()}?mode=rw"
        # The store's busy timeout: a writer of another process may hold the file a moment.
        timeout = sqlite_engine.BUSY_TIMEOUT_MS / 1000
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=timeout)) as probe:
            probe.execute("PRAGMA schema_version").fetchall()
    except sqlite3.OperationalError as exc:
        raise StoreUnavailable(f"cannot read store {path}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreUnavailable(
            f"{path} is not an SQLite database (was it written by something else?)"
        ) from exc
