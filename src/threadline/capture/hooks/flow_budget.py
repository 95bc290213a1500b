"""What following data through frame operations may cost a captured process.

Every followed call (a frame method, a numpy function, pandas' ``__finalize__``) costs capture
a few microseconds: nothing beside a script that works on whole frames, but a fifth to a
quarter of one that makes hundreds of thousands of small calls (a loop over many groups).
The budget bounds that cost: once following has taken more than ``share`` of the time since
capture started, and more than :data:`GRACE_SECONDS` in all (a short script is always
followed in full), capture stops following.  The wrappers that follow data are taken off
again (the library's own methods, at their own speed), and lineage from then on is coarse but
complete: what the process writes derives from every file it has read
(:meth:`~threadline.capture.tracking.Flow.stop_following`).  The run's ``threadline_capture``
facet says when and at what cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

#: Following may always cost this much, whatever the share.
GRACE_SECONDS: Final = 0.25
#: Followed calls between two looks at the budget (a look reads the clock once).
CHECK_EVERY: Final = 256
#: What a call through a following wrapper costs beyond its follower's own, timed, work: the
#: wrapper itself, looking at the caller, and freeing what tracking made.  Measured on a loop
#: over groups like bench/bench_long_script.py's small calls (20 rounds of 50 groups: 0.18 s
#: of overhead, 0.06 s of it timed in the followers, 42,000 wrapped calls): 2.8 us a call
#: here, counted low so as not to stop following sooner than needed.
CALL_SECONDS: Final = 2e-6


class FlowBudget:
    """The cost of following so far, and the share of the process's time it may reach."""

    __slots__ = ("calls", "followed", "grace", "on_spent", "share", "since", "spent", "stopped")

    def __init__(
        self,
        share: float | None,
        since: float,
        *,
        grace: float = GRACE_SECONDS,
        on_spent: Callable[[float, float], None] | None = None,
    ) -> None:
        #: None: no limit (``flow_budget = 1``, and capture sessions made in process).
        self.share = share
        self.since = since
        self.grace = grace
        #: Called once, with the seconds since capture started and the seconds spent following.
        self.on_spent = on_spent
        #: Seconds the followers took (timed), calls through the wrappers, calls followed.
        self.spent = 0.0
        self.calls = 0
        self.followed = 0
        #: Seconds after capture started when following stopped; None while it goes on.
        self.stopped: float | None = None

    def cost(self) -> float:
        """Seconds following has cost so far (timed work and the calls' estimated share)."""
        return self.spent + self.calls * CALL_SECONDS

    def over(self, now: float) -> bool:
        """Whether following has cost more than it may by ``now`` (``time.perf_counter``)."""
        if self.share is None or self.stopped is not None:
            return False
        return self.cost() > max(self.grace, self.share * (now - self.since))

    def stop(self, now: float) -> None:
        """Record that following stops, and tell whoever takes the wrappers off."""
        self.stopped = now - self.since
        if self.on_spent is not None:
            self.on_spent(self.stopped, self.cost())

    def facet(self) -> dict[str, float | bool]:
        """The ``flow`` entry of the run's ``threadline_capture`` facet."""
        out: dict[str, float | bool] = {
            "followed": self.stopped is None,
            "costSeconds": round(self.cost(), 4),
            "calls": self.calls,
        }
        if self.stopped is not None:
            out["stoppedAfterSeconds"] = round(self.stopped, 3)
        return out


__all__ = ["CALL_SECONDS", "CHECK_EVERY", "GRACE_SECONDS", "FlowBudget"]
