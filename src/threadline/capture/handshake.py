"""The variables ``threadline run`` sets in its command's environment, and only there.

They are how the launcher (:mod:`threadline.capture.launch`) talks to the command's processes
(:mod:`threadline.capture.bootstrap`, :mod:`threadline.capture.child`), not settings; the
supervisor reads them back from a process's report (:mod:`threadline.capture.script_run`).
Nothing else is imported here: every captured process imports this module at start.
"""

from __future__ import annotations

#: The supervisor's socket: set only in the command's environment, where it turns capture on.
SOCKET_ENV = "THREADLINE_CAPTURE_SOCKET"
#: ``--job``, ``--stage`` and ``--reason`` of ``threadline run``, for the command's processes.
JOB_ENV = "THREADLINE_RUN_JOB"
STAGE_ENV = "THREADLINE_RUN_STAGE"
REASON_ENV = "THREADLINE_RUN_REASON"
#: Set (to anything) in a command's environment: each process starts capture at its start,
#: not at its first import of a library a hook watches.
EAGER_ENV = "THREADLINE_CAPTURE_EAGER"

#: The hello's ``role`` of the connection a process sends its report on
#: (:mod:`threadline.capture.bootstrap`; the other roles are in :mod:`.framing`).
PROCESS_ROLE = "process"

__all__ = ["EAGER_ENV", "JOB_ENV", "PROCESS_ROLE", "REASON_ENV", "SOCKET_ENV", "STAGE_ENV"]
