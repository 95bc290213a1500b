"""Giving memory back to the system after a large request.

CPython frees a large batch's objects, but glibc keeps the freed heap pages mapped for reuse:
a server that took one 60 MiB batch would keep what its parsing needed for its whole
life.  ``malloc_trim`` returns those pages.  glibc also gives each thread that allocates its
own heap (up to eight per core), and a batch parsed in one worker thread and appended in
another leaves freed memory in both: :func:`limit_heaps` keeps them to two (threads mostly take
turns under the GIL anyway).  Elsewhere (musl, macOS) there are no such calls and nothing is
done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Final

#: Bodies from this size on are followed by a trim: small requests reuse the heap as it is.
LARGE_BODY: Final = 1024 * 1024
#: glibc's ``mallopt`` parameter for the number of heaps (``M_ARENA_MAX`` in malloc.h).
_M_ARENA_MAX: Final = -8
HEAPS: Final = 2
#: glibc's ``mallopt`` parameter for the size from which a block gets its own mapping.
_M_MMAP_THRESHOLD: Final = -3
#: Blocks from this size on are mapped apart and unmapped when freed (see :func:`limit_heaps`).
OWN_MAPPING: Final = 1024 * 1024


@functools.cache
def _glibc(function: str) -> ctypes._NamedFuncPointer | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        found: ctypes._NamedFuncPointer = getattr(ctypes.CDLL(name), function)
    except (OSError, AttributeError):
        return None
    return found


def limit_heaps() -> bool:
    """Keep glibc to :data:`HEAPS` heaps for the process (call before the worker threads
    allocate); False where the C library has no such setting."""
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return False
    # glibc raises its mapping threshold to the size of every mapped block freed (up to 32 MiB):
    # after one large batch, the next batch's buffers land in the heap, where a few live
    # objects above them keep the freed pages from ever being returned.  A fixed threshold
    # keeps large buffers in their own mappings, given back the moment they are freed.
    mallopt(_M_MMAP_THRESHOLD, OWN_MAPPING)
    return bool(mallopt(_M_ARENA_MAX, HEAPS))


def release_memory() -> bool:
    """Return the heap's free pages to the system; False where the C library cannot."""
    trim = _glibc("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


__all__ = ["HEAPS", "LARGE_BODY", "limit_heaps", "release_memory"]
