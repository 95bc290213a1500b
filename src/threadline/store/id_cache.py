"""The store's caches of committed row ids, bounded by the memory they take, not their length.

A cached node or version carries its facets' JSON, whose size ranges from two bytes to
megabytes, so a bound on entries is no bound at all: 500,000 entries held a server at a
gigabyte.  Each entry is charged an estimate of what it costs in memory (the strings it holds
plus a fixed overhead for the tuple, ints and dict slot), and the oldest entries go once the
total passes the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

#: Per-entry memory besides its strings: key and value tuples, ints, the dict's slot.
ENTRY_OVERHEAD: Final = 320
#: After eviction the cache is left at this share of its budget, so that eviction is rare.
_REFILL_TO: Final = 0.75


class BoundedCache(Generic[K, V]):
    """A dict whose entries' estimated size stays within ``budget`` bytes, oldest out first."""

    def __init__(self, budget: int, size_of: Callable[[K, V], int]) -> None:
        self.budget = max(0, budget)
        self._size_of = size_of
        self._entries: dict[K, V] = {}
        self.bytes = 0

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def __len__(self) -> int:
        return len(self._entries)

    def update(self, entries: Mapping[K, V]) -> None:
        """Add (or replace) ``entries``, then evict the oldest past the budget."""
        size_of, cached = self._size_of, self._entries
        for key, value in entries.items():
            old = cached.pop(key, None)
            if old is not None:
                self.bytes -= size_of(key, old)
            cached[key] = value
            self.bytes += size_of(key, value)
        if self.bytes > self.budget:
            self._evict(int(self.budget * _REFILL_TO))

    def _evict(self, target: int) -> None:
        # One pass over the oldest entries, then the deletions: taking ``next(iter(...))``
        # after each pop rescans every slot popped before it, so freeing a quarter of a
        # 400,000-entry cache took 3.3 s of held GIL instead of a few milliseconds.
        cached, size_of = self._entries, self._size_of
        excess = self.bytes - target
        freed = 0
        oldest: list[K] = []
        for key, value in cached.items():
            if freed >= excess:
                break
            freed += size_of(key, value)
            oldest.append(key)
        for key in oldest:
            del cached[key]
        self.bytes -= freed

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


def strings_size(*parts: object) -> int:
    """The estimated memory of an entry made of ``parts`` (strings counted by length)."""
    return ENTRY_OVERHEAD + sum(len(part) for part in parts if isinstance(part, str))


__all__ = ["ENTRY_OVERHEAD", "BoundedCache", "strings_size"]
