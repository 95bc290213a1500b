"""The capture error boundary.

Capture code runs inside :func:`capture_boundary`.  Whatever goes wrong in it (an unhashable
object, a full disk, an unreachable store) never reaches the user's code: the failure is
reported once per kind on stderr and counted, and the user's program carries on with its own
results and exceptions untouched.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import Counter
from collections.abc import Iterator

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


@contextlib.contextmanager
def capture_boundary(where: str) -> Iterator[None]:
    """Swallow and report any ``Exception`` raised by capture code inside the block."""
    try:
        yield
    except Exception as exc:  # the boundary exists to stop capture errors reaching users
        report(where, exc)


def failure_count() -> int:
    with _lock:
        return sum(failures.values())
