"""How threadline connects to an SQLite file: pragmas, transaction start, connection pools.

Shared by the store (:mod:`threadline.store.sqlite`) and by ``threadline migrate``
(:mod:`threadline.store.migrations`), which must write exactly as the store's writer does.

The writer's transactions start with ``BEGIN IMMEDIATE``, which takes the database's write lock
at once, so a read of the chain head and the append that follows cannot interleave with another
process's append; ``busy_timeout`` makes the other writers wait instead of failing.  Readers
start ordinary deferred transactions and never take the write lock.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, QueuePool

from threadline.store.checkpointer import BACKSTOP

BUSY_TIMEOUT_MS: Final = 60_000
WRITE_CACHE_KIB: Final = 16_384
CHECKPOINT_PAGES: Final = 10_000
WAL_SIZE_LIMIT: Final = 64 * 1024 * 1024  # bytes the WAL file is truncated to after a checkpoint


def configure(engine: Engine, *, immediate: bool) -> None:
    """Set the pragmas on every new connection of ``engine``; ``immediate`` for the writer."""

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
            # The writer touches index pages all over the file: a 16 MiB page cache (allocated
            # as used) keeps the hot ones, and checkpointing every ~40 MiB of WAL rather than
            # every 4 copies a page that many batches rewrote only once.  64 MiB ingested no
            # faster on stores of 360k events (four 91k-event batches: 13-15 s each either
            # way) and kept ~48 MiB more in a long-lived server (bench/bench_server_memory.py).
            cursor.execute(f"PRAGMA cache_size=-{WRITE_CACHE_KIB}")
            # The store's own thread checkpoints every ~CHECKPOINT_PAGES (store/checkpointer.py);
            # the writer's automatic checkpoint only bounds the log should that thread lag.
            cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES * BACKSTOP}")
            cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def write_engine(url: str) -> Engine:
    """The engine of the one writing connection (per process) to the SQLite file at ``url``."""
    engine = sa.create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=0)
    configure(engine, immediate=True)
    return engine


def read_engine(url: str) -> Engine:
    """An engine of reading connections to the SQLite file at ``url``."""
    engine = sa.create_engine(url, poolclass=NullPool if os.name == "nt" else QueuePool)
    configure(engine, immediate=False)
    return engine


__all__ = [
    "BUSY_TIMEOUT_MS",
    "CHECKPOINT_PAGES",
    "WAL_SIZE_LIMIT",
    "WRITE_CACHE_KIB",
    "configure",
    "read_engine",
    "write_engine",
]
