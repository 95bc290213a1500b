"""Eviction from the store's bounded id caches, against deleting the same keys from a dict.

A server's node and version caches hold up to hundreds of thousands of entries; when a commit
pushes one past its budget, a quarter of it goes at once, with the GIL held (every request
waits).  The reference, measured in the same run, is the floor of that work: the same number
of oldest keys deleted from a plain dict of the same size.

Run: ``python bench/bench_id_cache.py``  (env ``BENCH_REPEAT``, default 3: best of)
"""

from __future__ import annotations

import os
import time

from threadline.store.id_cache import ENTRY_OVERHEAD, BoundedCache, strings_size

REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
SIZES = (10_000, 100_000, 400_000)


def evict(entries: int) -> tuple[float, int]:
    """Seconds for the update that overflows a full cache of ``entries``, and entries freed."""
    cache: BoundedCache[str, str] = BoundedCache(entries * (ENTRY_OVERHEAD + 10), strings_size)
    cache.update({f"k{i:08d}": "x" for i in range(entries)})
    start = time.perf_counter()
    cache.update({"one-more": "y" * 20})
    return time.perf_counter() - start, entries + 1 - len(cache)


def floor(entries: int, freed: int) -> float:
    plain = {f"k{i:08d}": "x" for i in range(entries)}
    oldest = list(plain)[:freed]
    start = time.perf_counter()
    for key in oldest:
        del plain[key]
    return time.perf_counter() - start


def main() -> None:
    print(f"id cache eviction (a quarter of a full cache), best of {REPEAT}")
    for entries in SIZES:
        runs = [evict(entries) for _ in range(REPEAT)]
        ours, freed = min(runs)
        reference = min(floor(entries, freed) for _ in range(REPEAT))
        print(
            f"  {entries:>9,} entries, {freed:>7,} evicted   {ours * 1e3:8.1f} ms"
            f"   (dict deletions alone {reference * 1e3:6.1f} ms, x{ours / reference:.1f})"
        )


if __name__ == "__main__":
    main()
