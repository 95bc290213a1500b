"""Checkpoints of an SQLite store's write-ahead log, run on a thread of their own.

In WAL mode SQLite appends the pages of each commit to the ``-wal`` file, and the commit that
takes the file past ``wal_autocheckpoint`` pages also copies them into the database and fsyncs
it: ~40 MiB, a tenth of a second or more, paid by one append and by every request waiting on
it.  A writing process instead checkpoints on this thread, through a connection of its own,
while its next batch is being prepared: SQLite runs without the interpreter's lock meanwhile,
so the copy overlaps the Python work of the appends.  (``bench/bench_append_stream.py``,
120,000 official-client events 5,000 at a time, two interleaved pairs: 26,200 and 25,700
events/s with the writer checkpointing, 28,500 and 28,300 with this thread.  Below ``pages``
of log, as in a short burst, nothing changes.)

When: a commit wakes the thread, which waits :attr:`Checkpointer.interval` seconds for more
commits to pile up, then checkpoints ``PASSIVE`` (it never waits for, nor blocks, a reader or
the writer; it copies what no reader still needs).  SQLite answers how many pages the log holds;
the interval is scaled so that a checkpoint copies about ``pages`` of them, as the automatic
checkpoint would (a page rewritten by many commits is copied once, not once per commit), and
stays within 0.05-5 s: a trickle of commits into a log that was once large is checkpointed
every few seconds rather than every ``pages``.  A log
whose file has never been that large (a short pipeline's store) is not checkpointed at all, as
before: its size is read with ``stat``.  (Not by reading the log's shared-memory index: a file
of SQLite's opened and closed in this process would drop every lock SQLite holds on it, POSIX
locks being per process and file; tried, and a store written by eight processes at once came
out malformed.)

The writing connection keeps an automatic checkpoint at :data:`BACKSTOP` times that size
(:mod:`threadline.store.sqlite_engine`): the log stays bounded if this thread falls behind,
fails, or was never started (``threadline migrate``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Final

#: The writing connection's own automatic checkpoint, in multiples of the thread's size.
BACKSTOP: Final = 4
#: Bytes a page takes in the log: SQLite's default page and the frame's header.
FRAME_BYTES: Final = 4096 + 24
#: Bounds of the wait between a commit and the checkpoint that follows it (seconds).
MIN_INTERVAL: Final = 0.05
MAX_INTERVAL: Final = 5.0
FIRST_INTERVAL: Final = 0.5

_log = logging.getLogger("threadline.store")


def next_interval(interval: float, new_pages: int, pages: int) -> float:
    """The wait that would have let ``pages`` pages gather, given that ``interval`` let
    ``new_pages`` gather (within the bounds)."""
    if new_pages <= 0:
        return interval
    return min(MAX_INTERVAL, max(MIN_INTERVAL, interval * pages / new_pages))


class Checkpointer:
    """Checkpoints the SQLite database at ``path`` after commits (see the module docs)."""

    def __init__(self, path: Path, pages: int) -> None:
        self._path = path
        self._log_file = path.with_name(path.name + "-wal")
        self._pages = pages
        self.interval = FIRST_INTERVAL
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

    def _log_grew_large(self) -> bool:
        """Whether the log's file has ever held ``pages`` pages (it only shrinks when a
        writer truncates it after a checkpoint)."""
        try:
            return os.stat(self._log_file).st_size >= self._pages * FRAME_BYTES
        except OSError:
            return False

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        pages_before = 0
        try:
            while True:
                self._committed.wait()
                if self._stop.wait(self.interval):
                    return
                self._committed.clear()
                if not self._log_grew_large():
                    continue
                try:
                    if connection is None:
                        # mode=rw: a store whose file was removed is not made anew here.
                        uri = f"{self._path.absolute().as_uri()}?mode=rw"
                        connection = sqlite3.connect(uri, uri=True, isolation_level=None)
                    rows = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    # The backstop bounds the log meanwhile; after the next commit, try again
                    # on a new connection (this one may be what failed).
                    _log.warning("threadline: checkpointing %s failed: %s", self._path, exc)
                    if connection is not None:
                        connection.close()
                        connection = None
                    continue
                busy, pages, _copied = rows[0] if rows else (1, -1, -1)
                if busy or pages < 0:
                    continue  # another connection was checkpointing: nothing learned
                # The log starts over from its first page when a writer finds it all copied
                # (under a steady stream of commits, after the writer's own backstop checkpoint).
                new = pages - pages_before if pages >= pages_before else pages
                self.interval = next_interval(self.interval, new, self._pages)
                pages_before = pages
        finally:
            if connection is not None:
                connection.close()


__all__ = ["BACKSTOP", "Checkpointer", "next_interval"]
