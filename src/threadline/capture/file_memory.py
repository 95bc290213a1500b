"""Captured processes remember the fingerprints of large files from one run to the next.

A pipeline reads the same raw files run after run, and capture names each version read by the
BLAKE3 of its bytes: ~80 ms for 512 MiB here on two cores with the file in the page cache,
seconds for a file that is not or on a machine without wide vector units.  While capture
runs, the process-wide fingerprint cache (:func:`threadline.fingerprint.default_cache`) keeps
files of at least :data:`LARGE_FILE` bytes in ``fingerprints.sqlite3`` in the user's cache
folder (:mod:`threadline.capture.cache_folder`), by the file's device, inode, size, mtime and
ctime, as :class:`~threadline.fingerprint.FingerprintCache` does (a file rewritten in place
gets another ctime, one modified within the last two seconds is not remembered).  Smaller
files are hashed each time: below that size, hashing costs about what loading ``sqlite3`` and
opening the file does, which happens only when the first large file is read.

A program that installed a default cache of its own (or none) keeps it.
"""

from __future__ import annotations

import os
from typing import Final

from threadline.capture.cache_folder import cache_folder
from threadline.fingerprint.cache import (
    FingerprintCache,
    default_cache,
    default_is_built_in,
    set_default_cache,
)

#: Files of at least this many bytes are remembered across runs (64 MiB: ~10 ms of hashing
#: here, tens on a machine without AVX-512 or on one core).
LARGE_FILE: Final = 64 * 1024 * 1024
#: The SQLite file in the user's cache folder.
FILE_NAME: Final = "fingerprints.sqlite3"


class Remembered:
    """The cache :func:`remember_large_files` installed, and the one it replaced."""

    __slots__ = ("cache", "replaced")

    def __init__(self, cache: FingerprintCache, replaced: FingerprintCache | None) -> None:
        self.cache = cache
        self.replaced = replaced


def remember_large_files() -> Remembered | None:
    """Make the process-wide fingerprint cache keep large files across runs (see the module
    docstring); None when the default is left as it was."""
    if not default_is_built_in():
        return None
    folder = cache_folder()
    current = default_cache()
    if folder is None or current is None:
        return None
    cache = FingerprintCache(
        os.path.join(folder, FILE_NAME),
        max_entries=current.max_entries,
        persist_from=LARGE_FILE,
        open_lazily=True,
    )
    return Remembered(cache, set_default_cache(cache))


def forget_large_files(remembered: Remembered | None) -> None:
    """Put back the cache :func:`remember_large_files` replaced (capture stopped), unless the
    program has replaced the default since."""
    if remembered is None or default_cache() is not remembered.cache:
        return
    set_default_cache(remembered.replaced)
    remembered.cache.close()


__all__ = ["FILE_NAME", "LARGE_FILE", "Remembered", "forget_large_files", "remember_large_files"]
