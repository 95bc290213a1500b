"""Column statistics of file versions read before, kept on disk between captured runs.

A pipeline's scripts read the same raw files run after run, and describing what they read is
the costliest part of recording a read: a 20,000 x 9 frame takes ~10 ms, most of it sorting
its sample (``bench/bench_capture.py``'s read), against ~0.1 ms to read its statistics back.
Statistics are kept under the user's cache folder (``$XDG_CACHE_HOME/threadline/column-stats``,
else ``~/.cache/...``), one small JSON file per entry, for every process of the user.

An entry is found by what decides the statistics of a read frame: the file's content
fingerprint, the frame's schema and row count (the in-process cache's key:
:meth:`threadline.capture.recorder.Capture._statistics_of_read`), and the code that computes
them (threadline's version and the statistics module's own file, so that an edited or
upgraded module never serves numbers it would not compute).  Entries are written whole
(a temporary file renamed over), so a reader sees an entry or none; one that cannot be read
is a miss.  At most :data:`MOST_ENTRIES` are kept: now and then a write removes those used
longest ago.  Nothing here ever fails a read: without a usable cache folder, statistics are
computed every time.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from typing import Any, Final

import blake3
import orjson

from threadline._version import __version__
from threadline.capture import column_stats
from threadline.capture.cache_folder import cache_folder

#: Entries kept at most (a 9-column entry is ~2.5 kB; a 64-column one ~18 kB).
MOST_ENTRIES: Final = 2_000
#: What a pruning write keeps, of :data:`MOST_ENTRIES`.
KEPT_AFTER_PRUNING: Final = 1_500
#: One write in this many looks at how many entries there are (listing the folder costs
#: ~1 ms at its largest, a write ~0.1 ms).
PRUNE_EVERY: Final = 64

#: A write's temporary file older than this was left by a process that died mid-write.
_ABANDONED_NS: Final = 3_600 * 10**9
_FOLDER: Final = "column-stats"
_code_stamp: str | None = None


def folder() -> str | None:
    """Where entries are kept, or None when the user's cache folder is not an absolute path."""
    return cache_folder(_FOLDER)


def _code() -> str:
    """What identifies the code computing statistics: threadline's version and the size and
    time of the statistics module's file (an edited checkout keeps its version)."""
    global _code_stamp
    if _code_stamp is None:
        try:
            st = os.stat(column_stats.__file__)
            _code_stamp = f"{__version__}:{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            _code_stamp = f"{__version__}:?"
    return _code_stamp


def entry_name(version: str, schema: Sequence[tuple[str, str]], rows: int | None) -> str | None:
    """The file name of the entry of a frame of ``schema`` and ``rows`` read from the file
    version ``version`` (a content fingerprint); None for a schema JSON cannot hold (a
    column name with a lone surrogate), whose statistics are not kept."""
    try:
        key = orjson.dumps([_code(), version, [list(field) for field in schema], rows])
    except TypeError:
        return None
    return blake3.blake3(key).hexdigest(20) + ".json"


def recalled(name: str | None) -> tuple[bool, dict[str, Any] | None]:
    """``(True, statistics)`` kept under ``name`` (None: a frame that has none), or
    ``(False, None)`` when there are none to recall (or no ``name``: see :func:`entry_name`)."""
    place = folder()
    if place is None or name is None:
        return False, None
    path = os.path.join(place, name)
    try:
        with open(path, "rb") as handle:
            kept = orjson.loads(handle.read())
        # Used now: the last to go when the folder is pruned.
        os.utime(path)
    except (OSError, orjson.JSONDecodeError):
        return False, None
    stats = kept.get("stats", False) if isinstance(kept, dict) else False
    if stats is None or isinstance(stats, dict):
        return True, stats
    return False, None


def keep(name: str | None, stats: dict[str, Any] | None) -> None:
    """Keep ``stats`` under ``name`` for later runs; quietly nothing if they cannot be (or
    there is no ``name``)."""
    place = folder()
    if place is None or name is None:
        return
    try:
        text = orjson.dumps({"stats": stats}, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        return
    partial = os.path.join(place, f".{name}.{os.getpid()}.partial")
    try:
        os.makedirs(place, exist_ok=True)
        with open(partial, "wb") as handle:
            handle.write(text)
        os.replace(partial, os.path.join(place, name))
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(partial)
        return
    if os.urandom(1)[0] % PRUNE_EVERY == 0:
        prune(place)


def prune(place: str, most: int = MOST_ENTRIES, kept: int = KEPT_AFTER_PRUNING) -> None:
    """Past ``most`` entries in ``place``, remove those used longest ago down to ``kept``;
    remove what writers that died mid-write left."""
    abandoned = time.time_ns() - _ABANDONED_NS
    with contextlib.suppress(OSError):
        entries: list[tuple[int, str]] = []
        with os.scandir(place) as listing:
            for item in listing:
                with contextlib.suppress(OSError):
                    used = item.stat().st_mtime_ns
                    if item.name.endswith(".json"):
                        entries.append((used, item.path))
                    elif item.name.endswith(".partial") and used < abandoned:
                        os.remove(item.path)
        if len(entries) <= most:
            return
        entries.sort()
        for _, path in entries[: len(entries) - kept]:
            with contextlib.suppress(OSError):
                os.remove(path)


__all__ = [
    "KEPT_AFTER_PRUNING",
    "MOST_ENTRIES",
    "entry_name",
    "folder",
    "keep",
    "prune",
    "recalled",
]
