"""The server gives memory back after a large batch (issue 11, finding 7): glibc's heaps are
limited and trimmed.  What they are worth was measured with four 59 MiB batches (see
:mod:`threadline.server.memory`); here: the calls exist and act where glibc is the C library."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from threadline.server.memory import limit_heaps

glibc = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="malloc_trim and mallopt are glibc's"
)


@glibc
def test_the_heaps_are_limited() -> None:
    assert limit_heaps()


#: Run in an interpreter of its own: resident memory is the whole process's, and in the test
#: process other tests' threads finishing (a run's writer thread, an emitter) free memory of
#: their own meanwhile, which made the "still held" checks fail now and then.
FREED_PAGES = """
import ctypes

from threadline.server.memory import release_memory


def resident_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
# 64 MiB in blocks below the mmap threshold: freed, they stay in the heap until trimmed.
blocks, pins = [], []
for _ in range(1024):
    blocks.append(libc.malloc(64 * 1024))
    pins.append(libc.malloc(1000))  # between the blocks: free() alone cannot shrink
for block in blocks:
    libc.memset(block, 1, 64 * 1024)
held = resident_kib()
for block in blocks:
    libc.free(block)
assert resident_kib() > held - 8 * 1024, "freed, yet not held"
assert release_memory()
assert resident_kib() < held - 32 * 1024, "trimmed, yet still held"
for pin in pins:
    libc.free(pin)
"""


@glibc
def test_freed_heap_pages_go_back_to_the_system() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FREED_PAGES], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
