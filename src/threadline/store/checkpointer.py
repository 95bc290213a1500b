"""Checkpoints of an SQLite store's write-ahead log, run on a thread of their own.

In WAL mode SQLite appends the pages of each commit to the ``-wal`` file, and the commit that
takes the log past ``wal_autocheckpoint`` pages also copies them into the database and fsyncs
it: ~40 MiB, a tenth of a second or more, paid by one append and by every request waiting on
it.  A writing process instead checkpoints on this thread, through a connection of its own,
while its next batch is being prepared: SQLite runs without the interpreter's lock meanwhile,
so the copy overlaps the Python work of the appends.  (``bench/bench_append_stream.py``,
120,000 official-client events 5,000 at a time, two interleaved pairs: 22,300 and 21,900
events/s with the writer checkpointing, 24,400 and 23,800 with this thread.)

When: as SQLite's automatic checkpoint would, once the log holds ``pages`` pages not yet
copied.  A commit wakes the thread, which reads that count from the header of the log's
shared-memory index (``-shm``: the last frame and the last frame copied back, see
https://sqlite.org/walformat.html), and checkpoints ``PASSIVE`` when it is reached: it never
waits for, nor blocks, a reader or the writer, and copies what no reader still needs.  Fewer
pages, as in a short pipeline's store, and nothing is checkpointed, as before.

The writing connection keeps an automatic checkpoint at :data:`BACKSTOP` times that size
(:mod:`threadline.store.sqlite_engine`): the log stays bounded if this thread falls behind,
fails, or was never started (``threadline migrate``).
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Final

#: The writing connection's own automatic checkpoint, in multiples of the thread's size.
BACKSTOP: Final = 4
#: How long the thread lets commits pile up before it looks at the log (seconds).
SETTLE: Final = 0.05

_log = logging.getLogger("threadline.store")
# The WAL index header (two copies of 48 bytes, native byte order) and the checkpoint info
# after them: the last valid frame (mxFrame) and the last frame copied back (nBackfill).
_HEADER: Final = 48
_MX_FRAME: Final = 16
_BACKFILLED: Final = 96


def waiting_pages(shm: Path) -> int | None:
    """Pages the log holds that no checkpoint has copied into the database yet, from the
    shared-memory index ``shm``; None when it cannot be read as one."""
    try:
        with shm.open("rb") as handle:
            head = handle.read(_BACKFILLED + 4)
    except OSError:
        return None
    if len(head) < _BACKFILLED + 4 or head[:_HEADER] != head[_HEADER : 2 * _HEADER]:
        return None  # not initialized, or caught in the middle of an update
    last = int.from_bytes(head[_MX_FRAME : _MX_FRAME + 4], sys.byteorder)
    copied = int.from_bytes(head[_BACKFILLED : _BACKFILLED + 4], sys.byteorder)
    return max(0, last - copied)


class Checkpointer:
    """Checkpoints the SQLite database at ``path`` after commits (see the module docs)."""

    def __init__(self, path: Path, pages: int) -> None:
        self._path = path
        self._shm = path.with_name(path.name + "-shm")
        self._pages = pages
        self._committed = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def committed(self) -> None:
        """A write transaction committed: the log has grown."""
        if self._closed:
            return
        self._committed.set()
        thread = self._thread
        # (Not alive: this process was forked from one that had started it.)
        if thread is None or not thread.is_alive():
            with self._lock:
                if not self._closed and (self._thread is None or not self._thread.is_alive()):
                    self._thread = threading.Thread(
                        target=self._run, name="threadline-checkpointer", daemon=True
                    )
                    self._thread.start()

    def close(self) -> None:
        """Stop the thread (the log is left to the next checkpoint, the backstop or SQLite's
        own at the last connection's close)."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
        self._stop.set()
        self._committed.set()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while True:
                self._committed.wait()
                if self._stop.wait(SETTLE):
                    return
                self._committed.clear()
                waiting = waiting_pages(self._shm)
                if waiting is None or waiting < self._pages:
                    continue
                try:
                    if connection is None:
                        # mode=rw: a store whose file was removed is not made anew here.
                        uri = f"{self._path.absolute().as_uri()}?mode=rw"
                        connection = sqlite3.connect(uri, uri=True, isolation_level=None)
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    # The backstop bounds the log meanwhile; after the next commit, try again
                    # on a new connection (this one may be what failed).
                    _log.warning("threadline: checkpointing %s failed: %s", self._path, exc)
                    if connection is not None:
                        connection.close()
                        connection = None
        finally:
            if connection is not None:
                connection.close()


__all__ = ["BACKSTOP", "SETTLE", "Checkpointer", "waiting_pages"]
