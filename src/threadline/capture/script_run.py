"""A script run built from its process's report, for a process that never started capture.

A captured process starts capture only when it imports what a hook watches
(:mod:`threadline.capture.bootstrap`); one that never does reports its start and its end
instead, and its script run is built here, in the store's writer agent (or wherever the
supervisor's events are written), with the facets capture would have given it in the process:
the same job name, project, parameters, context (pid, command line, folder, interpreter,
packages, git state, script digest), execution id and end.

A report (as the supervisor assembles it from the process's frames) is a JSON object:

* ``start``: ``runId``, ``started`` (epoch µs), ``pid``, ``processStart``, ``argv``,
  ``origArgv``, ``cwd``, ``python``, ``packages`` and ``environ`` (its ``THREADLINE_*``
  variables and those the ``identity_env`` setting names);
* ``end`` (absent when the process died first): ``ended`` (epoch µs), ``argv``, ``packages``,
  ``mainFile``, ``mainSpec``, and ``error`` (message, stack trace) or ``exitStatus``;
* ``command``: set by the supervisor when the command's end decides the run's end:
  ``status`` (as :meth:`subprocess.Popen.wait` gives it) and ``ended`` (epoch µs).  A report
  without an ``end`` then ends as a run the command left open (FAIL, or ABORT after status 0);
  a report of the command's own process that ended well is failed by a non-zero status, as
  :mod:`threadline.capture.run_ends` does for captured processes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from threadline.capture import environment
from threadline.capture.boundary import report as report_failure
from threadline.capture.environment import ProcessFacts
from threadline.capture.failure import error_of
from threadline.capture.handshake import JOB_ENV, REASON_ENV, STAGE_ENV
from threadline.capture.project import identify
from threadline.capture.recording import CapturedRun
from threadline.capture.run_ends import describe_status, end_event, termination
from threadline.capture.session import default_job, failed_status
from threadline.config import resolve
from threadline.errors import ThreadlineError
from threadline.model.times import iso

#: The ``threadline_capture`` facet of a process that captured nothing (no hook installed).
_NOTHING_CAPTURED: Final = {
    "operations": 0,
    "imprecise": 0,
    "failures": 0,
    "failuresByHook": {},
    "hooks": [],
    "skipped": [],
}


def report_events(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of the script run ``report`` describes (see the module docstring).

    Raises :class:`~threadline.errors.ThreadlineError` for a report whose settings or
    stage are invalid (the process itself would have said so and captured nothing).
    """
    start: Mapping[str, Any] = report["start"]
    end: Mapping[str, Any] | None = report.get("end")
    command: Mapping[str, Any] | None = report.get("command")
    environ: dict[str, str] = {str(k): str(v) for k, v in (start.get("environ") or {}).items()}
    cwd = str(start["cwd"])
    settings = resolve(environ=environ, cwd=Path(cwd))
    argv = [str(a) for a in ((end or {}).get("argv") or start.get("argv") or [])]
    orig_argv = [str(a) for a in start.get("origArgv") or argv]
    at_start = _facts(start, start.get("argv") or argv, orig_argv, cwd, start.get("packages"))
    at_end = _facts(start, argv, orig_argv, cwd, (end or start).get("packages"), end)

    own_script = not (argv and os.path.basename(argv[0]).startswith("ipykernel"))
    params = (
        environment.command_parameters(argv, environ, settings.identity_env) if own_script else None
    )
    first = argv[0] if argv else ""
    candidate = os.path.join(cwd, first) if first else ""
    script_path = os.path.abspath(candidate) if candidate and os.path.isfile(candidate) else None
    project = identify(settings, script_path, cwd=cwd)
    name = environ.get(JOB_ENV) or default_job(argv, orig_argv, root=project.root, cwd=cwd)
    # What the process ran is the same code whatever git says later: read it now, once.
    environment.refresh_git_state(
        environment.code_folder(script_path or environment.entry_script(at_end), cwd)
    )
    run = CapturedRun(
        name,
        stage=environ.get(STAGE_ENV) or None,
        namespace=project.namespace,
        reason=environ.get(REASON_ENV) or None,
        params=params,
        project=project,
        process=at_end,
    )
    run.run_id = str(start["runId"])
    if script_path is not None:
        run.script = script_path
    run.capture_info = _NOTHING_CAPTURED.copy
    run.process = at_start
    events = [run.start_event(iso(int(start["started"])))]
    run.process = at_end
    if end is None:
        if command is not None:
            events.append(_left_open(run, command))
        return events
    ended = iso(int(end["ended"]))
    events.append(run.end_event(_error(end), ended))
    status = int(command["status"]) if command is not None else 0
    if status != 0 and "error" not in end and "exitStatus" not in end:
        # The command's own process said it ended well, and then exited non-zero.
        events.append(_ended_by(run, command or {}, describe_status(status), "FAIL"))
    return events


def _facts(
    start: Mapping[str, Any],
    argv: Sequence[str],
    orig_argv: Sequence[str],
    cwd: str,
    packages: Any,
    end: Mapping[str, Any] | None = None,
) -> ProcessFacts:
    return ProcessFacts(
        pid=int(start["pid"]),
        process_start=_number(start.get("processStart")),
        argv=tuple(str(a) for a in argv),
        orig_argv=tuple(orig_argv),
        cwd=cwd,
        python=str(start.get("python") or ""),
        packages={str(k): str(v) for k, v in (packages or {}).items()},
        main_file=_text((end or {}).get("mainFile")),
        main_spec=_text((end or {}).get("mainSpec")),
    )


def _error(end: Mapping[str, Any]) -> tuple[str, str] | None:
    error = end.get("error")
    if isinstance(error, list | tuple) and len(error) == 2:
        return str(error[0]), str(error[1])
    status = end.get("exitStatus")
    if status is None or not failed_status(status):
        return None
    # As the session records a script that called sys.exit with a failing status.
    return error_of(SystemExit, SystemExit(f"exit status {status}"), None)


def _left_open(run: CapturedRun, command: Mapping[str, Any]) -> dict[str, Any]:
    status = int(command["status"])
    kind = "FAIL" if status != 0 else "ABORT"
    return _ended_by(run, command, f"{describe_status(status)} before this run ended", kind)


def _ended_by(
    run: CapturedRun, command: Mapping[str, Any], message: str, kind: str
) -> dict[str, Any]:
    stamp = iso(int(command["ended"]))
    assert stamp is not None
    return end_event(
        run.run_id,
        (run.namespace, run.job),
        kind,
        stamp,
        message,
        termination=termination(int(command.get("status", 0))),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def events_of_reports(reports: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The events of every report; one that cannot be built is reported and left out (its
    process would have captured nothing either)."""
    events: list[dict[str, Any]] = []
    for one in reports:
        try:
            events.extend(report_events(one))
        except (ThreadlineError, KeyError, TypeError, ValueError) as exc:
            report_failure("threadline run: a process's report", exc)
    return events


__all__ = ["events_of_reports", "report_events"]
