"""One process's automatic capture, from start to exit: ``threadline.autocapture()``.

A session installs the capture hooks (those of libraries imported later install on import),
starts the run of the script (its job is the script's path by default) and ends it when the
process exits: COMPLETE, or FAIL with an uncaught exception or a non-zero ``sys.exit`` status.
Every read, write, fit, transform, prediction and metric in between becomes a child run of it
(see :mod:`threadline.capture.recording`).

:func:`autocapture` records through the process's own emitter and asks its own store what
earlier runs recorded; a process launched by ``threadline run`` starts its session from
:mod:`threadline.capture.child` instead, with the supervisor as both.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, NoReturn

from threadline.capture import emitter, environment
from threadline.capture.answers import Answers, in_process
from threadline.capture.api import RunRecorder
from threadline.capture.boundary import capture_boundary
from threadline.capture.context import current_run
from threadline.capture.file_memory import Remembered, forget_large_files, remember_large_files
from threadline.capture.hooks import Hooks
from threadline.capture.hooks._patch import set_enabled
from threadline.capture.labels import from_settings
from threadline.capture.project import identify, relative_name
from threadline.capture.recorder import Capture
from threadline.capture.recording import start_root
from threadline.collector import uncounted_objects
from threadline.config import current
from threadline.model import facets as f

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class Session:
    """One process's automatic capture: the recorder, its hooks and the root run.  (Not a
    dataclass: defining one is a millisecond of every captured process's start.)"""

    __slots__ = (
        "capture",
        "error",
        "exit_status",
        "file_memory",
        "hooks",
        "previous_excepthook",
        "previous_exit",
        "stopped",
    )

    def __init__(self, capture: Capture, hooks: Hooks) -> None:
        self.capture = capture
        self.hooks = hooks
        self.previous_excepthook: Callable[..., Any] | None = None
        self.error: ExcInfo | None = None
        #: What the script passed to ``sys.exit`` (None when it did not call it).
        self.exit_status: object = None
        self.previous_exit: Callable[..., Any] | None = None
        #: The fingerprint cache that keeps large files across runs, while capture runs.
        self.file_memory: Remembered | None = None
        self.stopped = False


_session: Session | None = None
_session_lock = threading.Lock()


def default_job(
    argv: Sequence[str] | None = None,
    orig: Sequence[str] | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    cwd: str | None = None,
) -> str:
    """The job name of a script run: its path relative to the project's ``root`` (by default
    the working directory), absolute outside it; the module of ``python -m``.  ``cwd``: the
    working directory of the process (by default this one's)."""
    argv = list(sys.argv if argv is None else argv)
    orig = list(getattr(sys, "orig_argv", []) if orig is None else orig)
    first = argv[0] if argv else ""
    module = module_of(orig)
    if module is not None:
        return module
    if first in ("", "-c", "-"):
        return "python"
    here = cwd or os.getcwd()
    return relative_name(os.path.join(here, first), root or here)


#: The interpreter's options that take the next argument as their value.
_VALUED_OPTIONS = frozenset({"-X", "-W", "--check-hash-based-pycs"})


def module_of(orig: Sequence[str]) -> str | None:
    """The module ``python -m MODULE`` runs, read from the interpreter's own command line
    (``sys.orig_argv``): ``sys.argv[0]`` is ``-m`` only until the module starts, then its
    file, so a run named once capture started must not depend on it.  Only the
    interpreter's options count: ``python train.py -m x`` runs no module."""
    args = iter(orig[1:])
    for arg in args:
        if arg == "-m":
            return next(args, None)
        if arg in ("-c", "-") or not arg.startswith("-"):
            return None  # a command, standard input or a script: the options ended
        if arg in _VALUED_OPTIONS:
            next(args, None)
        elif not arg.startswith("--") and arg.endswith("m") and arg[1:-1].isalpha():
            return next(args, None)  # flags run together: python -Om pkg
    return None


def autocapture(
    job: str | None = None,
    *,
    stage: str | None = None,
    reason: str | None = None,
    namespace: str | None = None,
    script: str | None = None,
) -> Session:
    """Capture lineage automatically from now on, until the process exits.

    Installs the capture hooks (those of libraries imported later install on import), starts
    the run of this script (``job``, by default the script's path) and ends it at exit,
    recording COMPLETE, or FAIL with an uncaught exception.  Every read, write, fit, transform,
    prediction and metric becomes a child run of it (see :mod:`threadline.capture.recording`).
    Calling it again returns the running session.
    """
    with _session_lock:
        if _session is not None and not _session.stopped:
            return _session
        return _begin(
            job,
            stage=stage,
            reason=reason,
            namespace=namespace,
            answers=Answers.opening(in_process),
            script=script,
        )


def start(
    job: str | None,
    *,
    stage: str | None,
    reason: str | None,
    answers: Answers,
    run_id: str | None = None,
    started: str | None = None,
    cwd: str | None = None,
) -> Session:
    """Start this process's session, asking ``answers`` what earlier runs recorded; the
    script run takes ``run_id`` and ``started`` when the process named it already, and its
    script, job and project are found from ``cwd``, the folder the process started in."""
    with _session_lock:
        return _begin(
            job,
            stage=stage,
            reason=reason,
            namespace=None,
            answers=answers,
            root=(run_id, started),
            cwd=cwd,
        )


def _begin(
    job: str | None,
    *,
    stage: str | None,
    reason: str | None,
    namespace: str | None,
    answers: Answers,
    script: str | None = None,
    root: tuple[str | None, str | None] = (None, None),
    cwd: str | None = None,
) -> Session:
    """Create, install and register the session (call with ``_session_lock`` held)."""
    global _session
    # Capture's modules and hooks must not bring the program's next full collection forward.
    with uncounted_objects():
        session = _new_session(
            job,
            stage=stage,
            reason=reason,
            namespace=namespace,
            answers=answers,
            script=script,
            root=root,
            cwd=cwd,
        )
    _session = session
    atexit.register(_at_exit, session)
    return session


def _new_session(
    job: str | None,
    *,
    stage: str | None,
    reason: str | None,
    namespace: str | None,
    answers: Answers,
    script: str | None,
    root: tuple[str | None, str | None] = (None, None),
    cwd: str | None = None,
) -> Session:
    here = cwd or os.getcwd()
    settings = current(here)
    if stage is not None:
        f.stage(stage)  # validates, naming the known stages
    labels = from_settings(settings)
    # The process's own script (not a notebook, nor an IPython kernel) takes its parameters
    # from its command line and the environment.
    own_script = script is None and not _kernel(sys.argv)
    params = (
        environment.command_parameters(sys.argv, os.environ, settings.identity_env)
        if own_script
        else None
    )
    script = os.path.join(here, script or (sys.argv[0] if sys.argv else ""))
    script_path = os.path.abspath(script) if os.path.isfile(script) else None
    project = identify(settings, script_path, cwd=here)
    if namespace:
        project = project.named(namespace)
    name = job or default_job(root=project.root, cwd=here)
    capture = Capture(
        job=name,
        namespace=project.namespace,
        labels=labels,
        stage=stage,
        answers=answers,
        project=project,
    )
    hooks = Hooks(capture, debug=settings.debug, flow_budget=settings.flow_budget)
    session = Session(capture=capture, hooks=hooks)

    def info() -> dict[str, Any]:
        # What following data cost, once there was any (a process that followed nothing has
        # the facet a process that captured nothing has: script_run's).
        flow = {"flow": hooks.flow_budget.facet()} if hooks.flow_budget.calls else {}
        cost = {"hookCost": hooks.cost.facet()} if hooks.cost.calls else {}
        return {
            **capture.info(),
            **flow,
            **cost,
            "hooks": sorted(hooks.installed),
            "skipped": sorted(hooks.skipped),
        }

    capture.root = start_root(
        name,
        stage=stage,
        namespace=capture.namespace,
        reason=reason,
        info=info,
        params=params,
        project=project,
        run_id=root[0],
        started=root[1],
        script=script_path,
    )
    session.file_memory = remember_large_files()
    hooks.install()
    session.previous_excepthook = sys.excepthook

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        session.error = (kind, value, tb)
        previous = session.previous_excepthook or sys.__excepthook__
        previous(kind, value, tb)

    sys.excepthook = excepthook
    # A script that ends with sys.exit(1) failed, though no exception reached the excepthook
    # (SystemExit never does): remember the status for the script run's end.
    session.previous_exit = sys.exit

    def exit_(status: object = None) -> NoReturn:
        session.exit_status = status
        if session.previous_exit is not None:
            session.previous_exit(status)
        raise SystemExit(status)  # pragma: no cover - the original always raises

    sys.exit = exit_
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork)
    return session


def _kernel(argv: Sequence[str]) -> bool:
    """A Jupyter kernel: its command line names a connection file that changes every start."""
    return bool(argv) and os.path.basename(argv[0]).startswith("ipykernel")


def _after_fork() -> None:
    # A forked child shares our patches but not our emitter thread: capture stays off there.
    set_enabled(False)


def stop(session: Session | None = None, *, uninstall: bool = True) -> None:
    """End automatic capture: emit what is pending and the script run's end."""
    global _session
    session = session or _session
    if session is None or session.stopped:
        return
    session.stopped = True
    capture = session.capture
    with capture_boundary("capture.finish"):
        capture.finish()
    with capture_boundary("capture.recorded"):
        capture.close()
    root = capture.root
    if root is not None:
        with capture_boundary("capture.root"):
            if root.stage is None:
                root.stage = capture.inferred_stage()
            kind, value, tb = session.error or _failed_exit(session.exit_status)
            _exit_root(root, kind, value, tb)
    if uninstall:
        session.hooks.uninstall()
        forget_large_files(session.file_memory)
        if sys.excepthook is not session.previous_excepthook:
            sys.excepthook = session.previous_excepthook or sys.__excepthook__
        if session.previous_exit is not None:
            sys.exit = session.previous_exit
    if _session is session:
        _session = None


def failed_status(status: object) -> bool:
    """Whether ``sys.exit(status)`` ends the process with a non-zero exit code."""
    return status is not None and status != 0


def _failed_exit(
    status: object,
) -> tuple[type[BaseException], BaseException, None] | tuple[None, None, None]:
    if not failed_status(status):
        return None, None, None
    return SystemExit, SystemExit(f"exit status {status}"), None


def _exit_root(
    root: RunRecorder,
    kind: type[BaseException] | None,
    value: BaseException | None,
    tb: TracebackType | None,
) -> None:
    try:
        root.__exit__(kind, value, tb)
    except ValueError:
        # The context variable was set in another context (e.g. at interpreter exit): the
        # run's end is still worth recording, so emit it without resetting the variable.
        root._token = current_run.set(root)
        root.__exit__(kind, value, tb)


def _at_exit(session: Session) -> None:
    stop(session, uninstall=False)
    emitter.shutdown()


__all__ = [
    "Session",
    "autocapture",
    "default_job",
    "failed_status",
    "module_of",
    "start",
    "stop",
]
