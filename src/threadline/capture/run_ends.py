"""The end a command's runs get when the command itself ended them: exit statuses and signals.

A captured process reports its runs' ends itself, from its hooks and at exit.  What it cannot
report is its own death: ``kill -9``, the OOM killer, ``os._exit``, a crash in a C extension,
or ``raise SystemExit(3)`` after its script's run already said COMPLETE.  The supervisor sees
every event the command's processes send, so it follows each run's state here and, once the
command has exited, ends the runs the command left open:

* FAIL when the command died of a signal or exited non-zero, with the signal or the status in
  an ``errorMessage`` facet and a ``threadline_termination`` facet;
* ABORT when it exited 0 while a run was still open (a thread cut short at exit);

and fails the command's own script run when it reported COMPLETE but the command exited
non-zero.  Each end is stamped with the time the supervisor saw the command end, later than
anything the command sent, so a run's final state is the same whatever order events arrive in.
"""

from __future__ import annotations

import threading
import time

from threadline.model.producer import PRODUCER, SCHEMA_URL

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from typing import Any, Final

_ERROR_FACET_SCHEMA: Final = (
    "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
)
_TERMINATION_SCHEMA: Final = "https://threadline.dev/spec/facets/1-0-0/TerminationRunFacet.json"
#: How many of the latest runs events came of are remembered (:meth:`RunEnds.seen`).
RUNS_REMEMBERED: Final = 65_536
_OPENING: Final = frozenset({"START", "RUNNING"})
_ENDING: Final = frozenset({"COMPLETE", "FAIL", "ABORT"})


def describe_status(status: int) -> str:
    """``status`` as :meth:`subprocess.Popen.wait` returns it, in words."""
    if status < 0:
        import signal  # only for a command a signal ended (its enums cost every run ~3 ms)

        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"the command was killed by {name}"
    return f"the command exited with status {status}"


class RunEnds:
    """Follows the state of every run a command's processes report; ends the ones left open."""

    def __init__(self, command_pid: int | None) -> None:
        self.command_pid = command_pid
        self._lock = threading.Lock()
        #: runId -> the first event that opened it (its job and parent facet are reused).
        self._open: dict[str, dict[str, Any]] = {}
        #: Runs whose end came before their start (events of one run over two connections).
        self._ended_early: set[str] = set()
        #: The command's own script runs that reported COMPLETE.
        self._completed_roots: dict[str, dict[str, Any]] = {}
        #: The latest runs events came of, oldest first (at most RUNS_REMEMBERED).
        self._seen: dict[str, None] = {}

    def note(self, events: list[dict[str, Any]]) -> list[str]:
        """Take in a batch the command sent; returns the runs it is the first news of."""
        first: list[str] = []
        with self._lock:
            seen = self._seen
            for event in events:
                kind = event.get("eventType")
                run = event.get("run")
                if not isinstance(run, dict) or not isinstance(run.get("runId"), str):
                    continue
                run_id: str = run["runId"]
                if run_id not in seen:
                    seen[run_id] = None
                    first.append(run_id)
                    if len(seen) > RUNS_REMEMBERED:
                        del seen[next(iter(seen))]
                if kind in _OPENING:
                    if run_id in self._ended_early:
                        self._ended_early.discard(run_id)
                    else:
                        self._open.setdefault(run_id, event)
                elif kind in _ENDING:
                    if self._open.pop(run_id, None) is None:
                        self._ended_early.add(run_id)
                    if kind == "COMPLETE" and self._is_command_root(run):
                        self._completed_roots[run_id] = event
        return first

    def seen(self, run_id: str) -> bool:
        """Whether events of ``run_id`` came (among the latest RUNS_REMEMBERED runs)."""
        with self._lock:
            return run_id in self._seen

    def _is_command_root(self, run: dict[str, Any]) -> bool:
        if self.command_pid is None:
            return False
        facets = run.get("facets") or {}
        context = facets.get("threadline_context") or {}
        return "parent" not in facets and context.get("pid") == self.command_pid

    def ends(self, status: int) -> list[dict[str, Any]]:
        """The events that end what the command left open, given how it ended."""
        with self._lock:
            left_open, self._open = list(self._open.values()), {}
            completed = list(self._completed_roots.values()) if status != 0 else []
            self._completed_roots.clear()
        if not left_open and not completed:
            return []
        stamp = now_stamp()
        how = describe_status(status)
        ends = [
            _end(
                event,
                "FAIL" if status != 0 else "ABORT",
                stamp,
                f"{how} before this run ended",
                status,
            )
            for event in left_open
        ]
        ends += [_end(event, "FAIL", stamp, how, status) for event in completed]
        return ends


def _end(
    opened: dict[str, Any], kind: str, stamp: str, message: str, status: int
) -> dict[str, Any]:
    """An end event for the run ``opened`` (its job and parent, no inputs or outputs)."""
    run = opened["run"]
    job = opened.get("job") or {}
    return end_event(
        run["runId"],
        (str(job.get("namespace")), str(job.get("name"))),
        kind,
        stamp,
        message,
        termination=termination(status),
        parent=(run.get("facets") or {}).get("parent"),
    )


def termination(status: int) -> dict[str, Any]:
    """The ``threadline_termination`` facet's fields for a command that ended with ``status``
    (as :meth:`subprocess.Popen.wait` gives it): the signal that killed it, or its exit code."""
    if status < 0:
        return {"signal": describe_status(status).rsplit(" ", 1)[-1]}
    return {"exitCode": status}


def end_event(
    run_id: str,
    job: tuple[str, str],
    kind: str,
    stamp: str,
    message: str,
    *,
    termination: dict[str, Any],
    parent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A FAIL or ABORT event for a run its own process could not end, saying why."""
    facets: dict[str, Any] = {}
    if parent is not None:
        facets["parent"] = parent
    facets["errorMessage"] = {
        "_producer": PRODUCER,
        "_schemaURL": _ERROR_FACET_SCHEMA,
        "message": message,
        "programmingLanguage": "python",
    }
    facets["threadline_termination"] = {
        "_producer": PRODUCER,
        "_schemaURL": _TERMINATION_SCHEMA,
        **termination,
    }
    return {
        "eventType": kind,
        "eventTime": stamp,
        "run": {"runId": run_id, "facets": facets},
        "job": {"namespace": job[0], "name": job[1]},
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
    }


def now_stamp() -> str:
    """Now, as event times are written (microseconds, UTC)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


__all__ = ["RunEnds", "describe_status", "end_event", "now_stamp", "termination"]
