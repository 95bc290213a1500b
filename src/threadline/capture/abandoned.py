"""Runs whose process is gone, with nobody left to end them: closed as ABORT by the next writer.

``threadline run``'s supervisor ends the runs its command leaves open.  When the command and
its supervisor die together (kill -9 of the process group, the OOM killer, a reboot), nothing
does.  The next writer on the same host finds them: a run still open whose ``threadline_context``
names this host, and whose process (pid, told from a later process with the same pid by its
start time) no longer runs, is closed with an ABORT saying so.  Runs of other hosts are left
alone: their processes cannot be seen from here.
"""

from __future__ import annotations

from typing import Any

from threadline.capture.liveness import is_running
from threadline.capture.run_ends import end_event, now_stamp
from threadline.model.ids import local_host
from threadline.store.base import Store
from threadline.store.open_runs import OpenRun, open_runs


def abandoned_run_ends(store: Store, host: str | None = None) -> list[dict[str, Any]]:
    """ABORT events for this host's open runs whose process no longer runs."""
    here = host or local_host()
    stamp = now_stamp()
    return [
        _abort(run, stamp)
        for run in open_runs(store)
        if run.context.get("host") == here and _process_gone(run)
    ]


def _process_gone(run: OpenRun) -> bool:
    pid = run.context.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool):
        return False  # nothing to check by: leave it open
    started = run.context.get("processStart")
    return not is_running(pid, started if isinstance(started, int | float) else None)


def _abort(run: OpenRun, stamp: str) -> dict[str, Any]:
    pid, host = run.context["pid"], run.context["host"]
    return end_event(
        run.run_id,
        (run.job_namespace, run.job_name),
        "ABORT",
        stamp,
        f"the process that ran it (pid {pid} on {host}) ended without ending the run",
        termination={"processGone": True, "pid": pid, "host": host},
    )


__all__ = ["abandoned_run_ends"]
