"""The first milliseconds of ``threadline run``: start the command before anything else.

Every captured script waits for this process to start it, so the path from ``threadline run``
to the command's ``exec`` imports only what it needs (sockets, a temporary folder,
``subprocess``): the listening socket is bound and the command started here, and only then
is the supervisor (:mod:`threadline.capture.bootstrap`, the store, SQLAlchemy) imported, while
the command is already starting up on the other core.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

SOCKET_ENV = "THREADLINE_CAPTURE_SOCKET"
JOB_ENV = "THREADLINE_RUN_JOB"
STAGE_ENV = "THREADLINE_RUN_STAGE"
REASON_ENV = "THREADLINE_RUN_REASON"
#: The folder put first on the child's PYTHONPATH (it holds only ``sitecustomize.py``).
SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hooks", "_site")
#: The options of ``threadline run`` (each takes a value).
RUN_OPTIONS = ("--job", "--stage", "--reason", "--store", "--url")


class Listener:
    """The supervisor's Unix socket, bound and listening in a private temporary folder."""

    def __init__(self) -> None:
        self.folder = _private_folder()
        self.path = os.path.join(self.folder, "capture.sock")
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.bind(self.path)
        # Connections wait in the backlog until the supervisor accepts them.
        self.socket.listen(16)

    def discard(self) -> None:
        import shutil

        self.socket.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _private_folder() -> str:
    """A new folder only this user can enter (``tempfile.mkdtemp`` without importing
    ``tempfile``, ``random`` and ``shutil``, a tenth of this module's start-up)."""
    base = os.environ.get("TMPDIR") or "/tmp"
    while True:
        path = os.path.join(base, f"tl-{os.getpid()}-{os.urandom(6).hex()}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path


def child_environment(
    base: Mapping[str, str],
    *,
    socket_path: str | None,
    job: str | None,
    stage: str | None,
    reason: str | None,
    store: str | None,
) -> dict[str, str]:
    """The environment of the command ``threadline run`` starts (its own, never ours)."""
    env = dict(base)
    existing = env.get("PYTHONPATH")
    env["PYTHONPATH"] = SITE_DIR + (os.pathsep + existing if existing else "")
    for key, value in (
        (SOCKET_ENV, socket_path),
        (JOB_ENV, job),
        (STAGE_ENV, stage),
        (REASON_ENV, reason),
    ):
        if value:
            env[key] = value
        else:
            env.pop(key, None)  # never inherited from an enclosing threadline run
    if store:
        env["THREADLINE_STORE"] = store
    # Otherwise the command resolves the store as this process did (its THREADLINE_STORE, or
    # the settings file): capture reads it too (labels, deployments), so both must agree.
    return env


def parse_run_args(argv: Sequence[str]) -> tuple[dict[str, str], list[str]] | None:
    """``[--job J] [--stage S] [--reason R] [--store X] [--url U] [--] COMMAND…`` (also
    ``--opt=value``) as (options, command); None for ``--help``, an unknown option or no
    command, which the full command line then handles."""
    options: dict[str, str] = {}
    args = list(argv)
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            index += 1
            break
        name, eq, value = arg.partition("=")
        if name not in RUN_OPTIONS:
            if arg.startswith("-"):
                return None
            break
        if not eq:
            if index + 1 >= len(args):
                return None
            value = args[index + 1]
            index += 1
        options[name[2:]] = value
        index += 1
    command = args[index:]
    return (options, command) if command else None


def run(
    command: Sequence[str],
    *,
    job: str | None = None,
    stage: str | None = None,
    reason: str | None = None,
    store: str | None = None,
    environ: Mapping[str, str] | None = None,
    url: str | None = None,
) -> int:
    """``threadline run``: run ``command`` with automatic capture; return its exit status.

    Raises :class:`~threadline.errors.UsageError` for no command, an unknown stage or a
    command that cannot be started (nothing runs then).
    """
    if not command:
        from threadline.errors import UsageError

        raise UsageError("threadline run needs a command after --, e.g. -- python train.py")
    if stage is not None:
        from threadline.model.stages import check_stage

        check_stage(stage)
    base = os.environ if environ is None else environ
    if url:
        base = {**base, "THREADLINE_URL": url}  # the command's processes see it too
    listener = Listener()
    env = child_environment(
        base, socket_path=listener.path, job=job, stage=stage, reason=reason, store=store
    )
    try:
        child = subprocess.Popen(list(command), env=env)
    except OSError as exc:
        listener.discard()
        from threadline.errors import UsageError

        raise UsageError(f"cannot run {command[0]!r}: {exc}") from exc
    from threadline.capture.bootstrap import supervise

    return supervise(child, listener, store=store, url=url)


def cli_run(argv: Sequence[str]) -> int | None:
    """``threadline run ARGV`` without Typer: the exit status, or ``None`` to use the full CLI
    (``--help``, an unknown option, no command)."""
    parsed = parse_run_args(argv)
    if parsed is None:
        return None
    options, command = parsed
    from threadline.errors import ThreadlineError

    try:
        url = options.get("url")
        if url is not None:
            from threadline.capture.http_sink import resolve_url

            url = resolve_url(url)
        return run(
            command,
            job=options.get("job"),
            stage=options.get("stage"),
            reason=options.get("reason"),
            store=options.get("store"),
            url=url,
        )
    except ThreadlineError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code


__all__ = [
    "JOB_ENV",
    "REASON_ENV",
    "RUN_OPTIONS",
    "SITE_DIR",
    "SOCKET_ENV",
    "STAGE_ENV",
    "Listener",
    "child_environment",
    "cli_run",
    "parse_run_args",
    "run",
]
