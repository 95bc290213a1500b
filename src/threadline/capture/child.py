"""The start of capture in a process that ``threadline run`` launched (called by ``sitecustomize``).

``threadline run [--job J] [--stage S] [--reason R] -- python script.py ARGS…`` works the way
``opentelemetry-instrument`` and ``ddtrace-run`` do: it starts the command with a folder holding
a ``sitecustomize.py`` first on the child's ``PYTHONPATH`` and passes its settings in the
child's environment only (see :mod:`threadline.capture.launch`).  Each Python process of the
command (not multiprocessing or loky workers, nor a library's helper script) then calls
:func:`bootstrap_child` before its first line runs; the script is never rewritten.  The
process sends its events to the supervisor and asks it what earlier runs recorded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from threadline.capture.answers import Answers
from threadline.capture.boundary import report
from threadline.capture.emitter import Emitter, set_emitter
from threadline.capture.handshake import JOB_ENV, REASON_ENV, SOCKET_ENV, STAGE_ENV
from threadline.capture.session import Session, start
from threadline.capture.supervisor_client import SocketSink, SupervisorRecorded
from threadline.capture.workers import is_worker_process
from threadline.config import current
from threadline.errors import CaptureError


def bootstrap_child(
    environ: Mapping[str, str] | None = None,
    *,
    run_id: str | None = None,
    started: str | None = None,
    cwd: str | None = None,
) -> Session | None:
    """Start capture in a process launched by ``threadline run`` (from ``sitecustomize``, or
    from :mod:`threadline.capture.bootstrap` once the process imports what capture watches:
    its script run then keeps the ``run_id``, ``started`` time and working folder ``cwd`` the
    process reported at its start: the script may have changed folders since)."""
    env = os.environ if environ is None else environ
    path = env.get(SOCKET_ENV)
    if not path or is_worker_process(getattr(sys, "orig_argv", sys.argv), sys.argv):
        return None
    settings = current(cwd)  # one search for the settings file, shared with the session's
    try:
        sink = SocketSink(path)
    except OSError as exc:
        report("capture.bootstrap", CaptureError(f"cannot reach threadline run at {path}: {exc}"))
        return None
    set_emitter(
        Emitter(
            sink,
            queue_size=settings.queue_size,
            batch_size=settings.batch_size,
            batch_window=min(settings.batch_window, 0.1),
        )
    )
    return start(
        env.get(JOB_ENV) or None,
        stage=env.get(STAGE_ENV) or None,
        reason=env.get(REASON_ENV) or None,
        answers=Answers(SupervisorRecorded(path)),
        run_id=run_id,
        started=started,
        cwd=cwd,
    )


__all__ = ["bootstrap_child"]
