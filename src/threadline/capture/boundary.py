"""The capture error boundary.

Capture code runs inside :func:`capture_boundary`.  Whatever goes wrong in it (an unhashable
object, a full disk, an unreachable store) never reaches the user's code: the failure is
reported once per kind on stderr and counted, and the user's program carries on with its own
results and exceptions untouched.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter

TYPE_CHECKING = False  # not typing's: every run's supervisor imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from types import TracebackType

_lock = threading.Lock()
_reported: set[str] = set()
failures: Counter[str] = Counter()


def report(where: str, exc: BaseException) -> None:
    """Count a capture failure; print the first one of each kind."""
    key = f"{where}:{type(exc).__name__}"
    with _lock:
        failures[where] += 1
        first = key not in _reported
        _reported.add(key)
    if first:
        print(
            f"threadline: capture failed in {where}: {type(exc).__name__}: {exc} "
            "(your program continues; lineage for this step may be incomplete)",
            file=sys.stderr,
        )


class capture_boundary:  # named as a function: ``with capture_boundary(where):``
    """Swallow and report any ``Exception`` raised by capture code inside the block.

    A class rather than ``contextlib.contextmanager``: it guards every hooked call (a
    generator per entry costs more), and the supervisor need not import contextlib."""

    __slots__ = ("where",)

    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False  # KeyboardInterrupt, SystemExit and the like go on
        report(self.where, exc)  # the boundary exists to stop capture errors reaching users
        return True


def failure_count() -> int:
    with _lock:
        return sum(failures.values())
