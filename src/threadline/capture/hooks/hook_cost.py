"""What capture's own work at hooked calls costs the captured program.

Each outermost hooked call (a file read or written, a fit, a prediction, a model saved) hands
its result to a handler that fingerprints content, describes columns and builds events on the
program's own thread: time the program waits for.  The cost is measured at every such call
(two clock reads and a lock, ~0.6 us, against library calls such as a file read or a fit, whose
handlers alone take a fraction of a millisecond to milliseconds) and recorded in the run's
``threadline_capture`` facet as ``hookCost``, so that what capture took from a run can be read
off the run itself, apart from the machine's noise that a timing of the whole program carries.
Following data through operations is accounted apart (:mod:`.flow_budget`).
"""

from __future__ import annotations

import threading


class HookCost:
    """Calls handled and seconds their handlers took, over every thread of the process."""

    __slots__ = ("_lock", "calls", "seconds")

    def __init__(self) -> None:
        # Handlers may run on several threads at once; a lost update would under-report.
        self._lock = threading.Lock()
        self.calls = 0
        self.seconds = 0.0

    def add(self, seconds: float) -> None:
        """Count one handled call that took ``seconds``."""
        with self._lock:
            self.calls += 1
            self.seconds += seconds

    def facet(self) -> dict[str, float | int]:
        """The ``hookCost`` entry of the run's ``threadline_capture`` facet."""
        with self._lock:
            return {"calls": self.calls, "seconds": round(self.seconds, 4)}


__all__ = ["HookCost"]
