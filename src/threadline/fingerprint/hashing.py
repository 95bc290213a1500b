"""The BLAKE3 hashers every fingerprint is taken with, and the domain of each kind of content.

A plain file, and ``bytes`` in memory, use BLAKE3's ordinary hash mode, so
``fingerprint_file(p)`` is exactly what ``b3sum p`` prints and ``fingerprint_bytes(b)`` equals the
fingerprint of a file holding ``b``.  Every *structured* kind (directory, symlink, numpy array,
pandas frame, Arrow table, estimator, ...) uses BLAKE3's key-derivation mode with its own context
string (the ``CTX_*`` constants below, ``"threadline fingerprint v1 <kind>"``).  A derive-key hash
runs with a different key and flags from the ordinary mode, so no file can be crafted to collide
with a directory or a frame, which a mere ``b"threadline:dir\\0"`` prefix on the input could not
promise while files stay unprefixed.  Changing a context string changes every stored
fingerprint of that kind: only ever do it together with the ``v1``.

Large buffers are hashed on several threads, on private thread pools in a forked child (see
:func:`new_hasher`).
"""

from __future__ import annotations

import os
from typing import Any, Final, Protocol

import blake3

__all__ = [
    "CTX_ARROW_COLUMN",
    "CTX_ARROW_TABLE",
    "CTX_DIRECTORY",
    "CTX_ESTIMATOR",
    "CTX_MASKED",
    "CTX_NDARRAY",
    "CTX_PANDAS_FRAME",
    "CTX_PANDAS_INDEX",
    "CTX_PANDAS_SERIES",
    "CTX_PANDAS_VALUES",
    "CTX_POLARS_SERIES",
    "CTX_SYMLINK",
    "CTX_TEXT",
    "READ_CHUNK",
    "Hasher",
    "new_hasher",
    "u64",
]

# Buffers at least this large go to a multi-threaded hasher.  Threads pay only while the cores
# are free: in a captured program they seldom are (after a BLAS call its worker threads spin
# for a while).  A loop's 1.6 MB of predictions took 7-10 ms to fingerprint through the pool
# and 2 ms on one thread; beside two busy processes on two cores, 1.6 MB took up to 12 ms
# through the pool and up to 4.5 ms on one thread.  Idle, threads save 1 ms on 8 MB and 4 ms
# on 16 MB.
_THREADED_MIN: Final = 16 << 20
#: How much is read, or buffered before it is hashed, at a time.
READ_CHUNK: Final = 1 << 20

_CONTEXT_PREFIX: Final = "threadline fingerprint v1 "
CTX_DIRECTORY: Final = _CONTEXT_PREFIX + "directory"
CTX_SYMLINK: Final = _CONTEXT_PREFIX + "symlink"
CTX_NDARRAY: Final = _CONTEXT_PREFIX + "numpy.ndarray"
CTX_MASKED: Final = _CONTEXT_PREFIX + "numpy.masked"
CTX_ARROW_COLUMN: Final = _CONTEXT_PREFIX + "arrow.column"
CTX_ARROW_TABLE: Final = _CONTEXT_PREFIX + "arrow.table"
CTX_POLARS_SERIES: Final = _CONTEXT_PREFIX + "polars.series"
CTX_PANDAS_FRAME: Final = _CONTEXT_PREFIX + "pandas.dataframe"
CTX_PANDAS_SERIES: Final = _CONTEXT_PREFIX + "pandas.series"
CTX_PANDAS_INDEX: Final = _CONTEXT_PREFIX + "pandas.index"
CTX_PANDAS_VALUES: Final = _CONTEXT_PREFIX + "pandas.values"
CTX_ESTIMATOR: Final = _CONTEXT_PREFIX + "estimator"
CTX_TEXT: Final = _CONTEXT_PREFIX + "nul-joined text"

# Threads for a large hash.  blake3's AUTO runs on rayon's global pool, whose threads do not
# survive fork: a forked child hashing with AUTO after its parent did waits forever for them.
# A forked child therefore asks for an explicit count, which gives each hasher a private pool
# (about 70 us to start, so not worth it where AUTO is safe).  Capped because every hasher of
# a frame starts its own pool and memory bandwidth saturates long before 8 threads.
_large_hash_threads: int = blake3.blake3.AUTO
_CHILD_MAX_THREADS: Final = 8


class Hasher(Protocol):
    def update(self, data: Any, /) -> object: ...
    def update_mmap(self, path: str, /) -> object: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


def new_hasher(context: str | None = None, *, size_hint: int = 0) -> Hasher:
    """A BLAKE3 hasher: ordinary mode without ``context``, key derivation with it.

    ``size_hint`` (bytes to come) picks one thread or several; in a child made by ``fork``,
    several means a private pool, since the global one did not survive the fork.
    """
    threads = _large_hash_threads if size_hint >= _THREADED_MIN else 1
    hasher: Hasher
    if context is None:
        hasher = blake3.blake3(max_threads=threads)
    else:
        hasher = blake3.blake3(derive_key_context=context, max_threads=threads)
    return hasher


def u64(n: int) -> bytes:
    return n.to_bytes(8, "little")


def _private_pools_after_fork() -> None:
    global _large_hash_threads
    _large_hash_threads = min(os.cpu_count() or 1, _CHILD_MAX_THREADS)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_private_pools_after_fork)
