"""The file fingerprint cache: re-fingerprinting an unchanged file is a ``stat`` and a lookup.

:class:`FingerprintCache` remembers a file's fingerprint by its ``stat`` identity, in memory and
optionally in a SQLite file shared between processes; it refuses entries taken within the racy
timestamp window, and survives ``fork``.  :data:`DEFAULT` names the process-wide cache that
:func:`default_cache` returns and :func:`set_default_cache` replaces.
"""

from __future__ import annotations

import enum
import os
import pathlib
import threading
import time
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from threadline.errors import StoreUnavailable, UsageError
from threadline.frozen import frozen_record

if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "DEFAULT",
    "CacheStats",
    "FingerprintCache",
    "StatKey",
    "UseDefault",
    "default_cache",
    "default_is_built_in",
    "file_state",
    "resolve_cache",
    "set_default_cache",
]

# See FingerprintCache: a file modified this recently may change again without its mtime moving.
_RACY_WINDOW_NS: Final = 2_000_000_000

#: What identifies one state of a file: device, inode, size, mtime and ctime (nanoseconds).
StatKey = tuple[int, int, int, int, int]


def file_state(st: os.stat_result) -> StatKey:
    """The cache key of the file ``st`` describes; a file that changed has another one."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@frozen_record
class CacheStats:
    """Counters of one :class:`FingerprintCache` since it was created."""

    hits: int
    misses: int
    stored: int
    #: Entries refused because the file was modified within the racy window.
    racy: int
    #: SQLite reads or writes that failed and were treated as a miss or skipped.
    persist_errors: int


_TABLE: Final = "file_fingerprints_v1"
_LIVE_CACHES: weakref.WeakSet[FingerprintCache] = weakref.WeakSet()


def _signed64(value: int) -> int:
    # st_dev and st_ino are unsigned 64-bit; SQLite integers are signed.
    return value - (1 << 64) if value >= (1 << 63) else value


class FingerprintCache:
    """Remembers file fingerprints by ``(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns)``.

    The in-process tier is a thread-safe LRU of ``max_entries``.  When ``path`` is given, entries
    are also kept in a SQLite file (created with its parent directories), so another process, or
    the next run, reuses them.  SQLite runs in WAL mode, so several processes can share the file
    on a local disk (not on a network filesystem).  The cache may be used from several threads
    and survives ``fork``: the child opens its own connection.

    ``st_ctime_ns`` is in the key as well as mtime because tools such as ``rsync -t`` or
    ``touch -r`` can rewrite a file and then put its old mtime back; nothing can put a ctime back.

    Racy timestamps (git's "racy clean" rule): a file is only remembered when its mtime is more
    than two seconds older than the moment hashing finished.  Filesystems stamp mtimes with a
    coarse clock (a kernel tick on Linux, one or two seconds on FAT, HFS+ or some network
    mounts), so a write landing in the same tick as an earlier one can change the bytes while
    leaving size and mtime as they were.  If we remembered a fingerprint taken within that tick,
    the later write would be invisible and the stale fingerprint served forever.  Once the mtime
    is older than any tick, every later write must move it, so the entry is safe.  Freshly
    written files are therefore hashed again until they are two seconds old.

    A failing SQLite read or write is counted in :meth:`stats` and treated as a miss: a cache
    must never be the reason a fingerprint cannot be taken.

    ``persist_from`` keeps only files of at least that many bytes in the SQLite file (smaller
    ones in memory only: hashing them costs about what looking them up does).  With
    ``open_lazily`` the SQLite file is opened when the first such file is looked up, not now;
    a file that cannot be opened then is counted as a persistence error and the cache goes on
    in memory.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_entries: int = 100_000,
        persist_from: int = 0,
        open_lazily: bool = False,
    ) -> None:
        if max_entries < 1:
            raise UsageError(f"max_entries must be at least 1, got {max_entries}")
        if persist_from < 0:
            raise UsageError(f"persist_from must be a size in bytes (>= 0), got {persist_from}")
        self.max_entries = max_entries
        self.persist_from = persist_from
        self.path = pathlib.Path(path) if path is not None else None
        self._entries: OrderedDict[StatKey, str] = OrderedDict()
        self._lock = threading.Lock()
        self._db_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        # Connections inherited through fork: never used, and never closed, because closing
        # one in the child could checkpoint or unlink the parent's WAL under it.
        self._inherited: list[sqlite3.Connection] = []
        self._closed = False
        self._hits = self._misses = self._stored = self._racy = self._persist_errors = 0
        if self.path is not None and not open_lazily:
            self._conn = self._open(self.path)
        _LIVE_CACHES.add(self)

    @staticmethod
    def _open(path: pathlib.Path) -> sqlite3.Connection:
        # Imported here: a capture child, whose cache lives in memory, never loads sqlite3
        # (~1.6 ms).
        import sqlite3

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # A lost entry after a power cut only costs one re-hash; skip the per-commit fsync.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_TABLE} ("
                "dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL, "
                "mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, "
                "fingerprint TEXT NOT NULL, PRIMARY KEY (dev, ino)) WITHOUT ROWID"
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(
                f"cannot open the fingerprint cache {path}: {exc}; "
                "delete the file (it only holds a cache) or choose another path"
            ) from exc
        return conn

    def lookup(self, st: os.stat_result) -> str | None:
        """The remembered fingerprint of the file ``st`` describes, or ``None``."""
        key = self._key(st)
        if key is None:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self._hits += 1
                return found
        found = self._db_get(key)
        with self._lock:
            if found is None:
                self._misses += 1
                return None
            self._hits += 1
            self._put_memory(key, found)
        return found

    def remember(
        self, st: os.stat_result, fingerprint: str, *, hashed_at_ns: int | None = None
    ) -> bool:
        """Keep ``fingerprint`` for the file ``st`` was taken from after hashing it.

        ``hashed_at_ns`` is when hashing finished (default: now).  Returns ``False`` when the
        racy-timestamp rule refuses the entry.
        """
        key = self._key(st)
        if key is None:
            return False
        now = time.time_ns() if hashed_at_ns is None else hashed_at_ns
        if st.st_mtime_ns >= now - _RACY_WINDOW_NS:
            # Also covers an mtime in the future (clock skew with a file server).
            with self._lock:
                self._racy += 1
            return False
        with self._lock:
            self._put_memory(key, fingerprint)
            self._stored += 1
        self._db_put(key, fingerprint)
        return True

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                self._hits, self._misses, self._stored, self._racy, self._persist_errors
            )

    def clear_memory(self) -> None:
        """Forget the in-process entries (the SQLite file is left as it is)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        """Close the SQLite file; the in-process tier keeps working."""
        with self._db_lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> FingerprintCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def _key(st: os.stat_result) -> StatKey | None:
        # Some filesystems report inode 0 for every file; such files cannot be told apart.
        if st.st_ino == 0:
            return None
        return file_state(st)

    def _put_memory(self, key: StatKey, fingerprint: str) -> None:
        self._entries[key] = fingerprint
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None and self.path is not None and not self._closed:
            # A cache opened lazily, or a forked child: it opens its own connection rather
            # than share the parent's handle.
            try:
                self._conn = self._open(self.path)
            except StoreUnavailable:
                # The in-process tier goes on alone (a forked child leaves the parent's file
                # as it is).
                self._closed = True
                with self._lock:
                    self._persist_errors += 1
        return self._conn

    def _db_get(self, key: StatKey) -> str | None:
        if self.path is None or key[2] < self.persist_from:
            return None
        import sqlite3  # loaded by _open already

        with self._db_lock:
            conn = self._connection()
            if conn is None:
                return None
            dev, ino, size, mtime_ns, ctime_ns = key
            try:
                row = conn.execute(
                    f"SELECT fingerprint FROM {_TABLE} WHERE dev = ? AND ino = ? AND size = ? "
                    "AND mtime_ns = ? AND ctime_ns = ?",
                    (_signed64(dev), _signed64(ino), size, mtime_ns, ctime_ns),
                ).fetchone()
            except sqlite3.Error:
                with self._lock:
                    self._persist_errors += 1
                return None
        return None if row is None else str(row[0])

    def _db_put(self, key: StatKey, fingerprint: str) -> None:
        if self.path is None or key[2] < self.persist_from:
            return
        import sqlite3  # loaded by _open already

        with self._db_lock:
            conn = self._connection()
            if conn is None:
                return
            dev, ino, size, mtime_ns, ctime_ns = key
            try:
                conn.execute(
                    f"INSERT INTO {_TABLE} (dev, ino, size, mtime_ns, ctime_ns, fingerprint) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dev, ino) DO UPDATE SET "
                    "size = excluded.size, mtime_ns = excluded.mtime_ns, "
                    "ctime_ns = excluded.ctime_ns, fingerprint = excluded.fingerprint",
                    (_signed64(dev), _signed64(ino), size, mtime_ns, ctime_ns, fingerprint),
                )
            except sqlite3.Error:
                with self._lock:
                    self._persist_errors += 1

    def _reset_after_fork(self) -> None:
        # Another thread may have held either lock at the moment of fork; in the child that
        # thread no longer exists, so the locks would stay taken forever.
        self._lock = threading.Lock()
        self._db_lock = threading.Lock()
        if self._conn is not None:
            self._inherited.append(self._conn)
            self._conn = None


def _reset_caches_after_fork() -> None:
    for cache in list(_LIVE_CACHES):
        cache._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_caches_after_fork)


_default_cache: FingerprintCache | None = FingerprintCache()
#: The in-memory cache every process starts with.
_BUILT_IN: Final = _default_cache


class UseDefault(enum.Enum):
    """The type of :data:`DEFAULT`, a sentinel distinct from ``None`` (no cache)."""

    DEFAULT = "default"


#: Use the process-wide cache (see :func:`default_cache`); pass ``cache=None`` to bypass caching.
DEFAULT: Final = UseDefault.DEFAULT


def default_cache() -> FingerprintCache | None:
    """The cache used when a call passes ``cache=DEFAULT`` (in-process only unless replaced)."""
    return _default_cache


def default_is_built_in() -> bool:
    """Whether the process-wide cache is still the in-memory one every process starts with
    (neither the program nor capture replaced it)."""
    return _default_cache is _BUILT_IN


def set_default_cache(cache: FingerprintCache | None) -> FingerprintCache | None:
    """Install ``cache`` (e.g. one backed by ``.threadline/fingerprints.db``) as the default.

    ``None`` turns default caching off.  Returns the previous default so it can be restored.
    """
    global _default_cache
    previous, _default_cache = _default_cache, cache
    return previous


def resolve_cache(cache: FingerprintCache | UseDefault | None) -> FingerprintCache | None:
    return _default_cache if isinstance(cache, UseDefault) else cache
