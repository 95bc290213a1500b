"""Giving memory back to the system after a large request.

CPython frees a large batch's objects, but glibc keeps the freed heap pages mapped for reuse:
a server that took one 60 MiB batch would keep the gigabyte its parsing needed for its whole
life.  ``malloc_trim`` returns those pages.  Elsewhere (musl, macOS) there is no such call and
nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Final

#: Bodies from this size on are followed by a trim: small requests reuse the heap as it is.
LARGE_BODY: Final = 1024 * 1024


@functools.cache
def _malloc_trim() -> ctypes._NamedFuncPointer | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def release_memory() -> bool:
    """Return the heap's free pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


__all__ = ["LARGE_BODY", "release_memory"]
