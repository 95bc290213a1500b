"""The first milliseconds of ``threadline run``: start the command before anything else.

Every captured script waits for this process to start it, so the path from ``threadline run``
to the command's ``exec`` imports only what it needs (sockets, a temporary folder,
``subprocess``): the listening socket is bound and the command started here, and only then
is the supervisor (:mod:`threadline.capture.supervisor`, the store, SQLAlchemy) imported,
while the command is already starting up on the other core.

This module also holds the two things launcher and command share:

* the options of ``threadline run`` (:data:`RUN_OPTIONS`), parsed here without Typer and
  listed by the Typer command (``threadline run --help``) from the same table;
* the handshake with the command's processes: the variables of the child's environment only
  (``THREADLINE_CAPTURE_SOCKET``, ``THREADLINE_RUN_JOB``, ``THREADLINE_RUN_STAGE``,
  ``THREADLINE_RUN_REASON``), which are how the launcher talks to the command, not settings.
  Settings the run was given explicitly (``--store``, ``--url``) reach the command as the
  ``THREADLINE_STORE`` and ``THREADLINE_URL`` settings, so both resolve the same store.
"""

from __future__ import annotations

# The C modules under signal and socket: their Python wrappers build IntEnums of every
# constant at import (enum, functools, collections, selectors), ~5 ms before the command
# could start; the supervisor imports them once the command runs.
import _signal  # type: ignore[import-not-found]  # CPython's own; typeshed has no stub
import os
import sys

from threadline.capture.handshake import JOB_ENV, REASON_ENV, SOCKET_ENV, STAGE_ENV
from threadline.capture.listener import Listener

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: The settings an explicit ``--store`` / ``--url`` / ``--namespace`` become in the command's
#: environment.
STORE_SETTING_ENV = "THREADLINE_STORE"
URL_SETTING_ENV = "THREADLINE_URL"
NAMESPACE_SETTING_ENV = "THREADLINE_NAMESPACE"
#: The folder put first on the child's PYTHONPATH (it holds only ``sitecustomize.py``).
SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hooks", "_site")

#: The options of ``threadline run``, each taking a value: (name, metavar, help).  The only
#: definition: :func:`parse_run_args` parses them and the Typer command lists them.
RUN_OPTIONS = (
    ("--job", "JOB", "Job name (default: the script's path from the project's root)."),
    ("--stage", "STAGE", "Stage of the run, overriding the inferred one."),
    (
        "--namespace",
        "NS",
        "Namespace of the project's jobs and in-memory datasets (default: THREADLINE_NAMESPACE, "
        "namespace in threadline.toml, else derived from the git repository or the folder).",
    ),
    ("--reason", "TEXT", "Why this run happens (recorded)."),
    (
        "--store",
        "PATH|URL",
        "Store path or URL to write to (default: the global --store, THREADLINE_STORE, "
        "store in threadline.toml, or .threadline/lineage.db).",
    ),
    (
        "--url",
        "URL",
        "Send lineage to this threadline server instead of the store "
        "(default: THREADLINE_URL or url in threadline.toml).",
    ),
)
_OPTION_NAMES = frozenset(name for name, _, _ in RUN_OPTIONS)


def child_environment(
    base: Mapping[str, str],
    *,
    socket_path: str | None,
    job: str | None,
    stage: str | None,
    reason: str | None,
    store: str | None,
    namespace: str | None = None,
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
        env[STORE_SETTING_ENV] = store
    if namespace:
        env[NAMESPACE_SETTING_ENV] = namespace
    # Otherwise the command resolves the store as this process did (its THREADLINE_STORE, or
    # the settings file): capture reads it too (labels, deployments), so both must agree.
    return env


def parse_run_args(argv: Sequence[str]) -> tuple[dict[str, str], list[str]] | None:
    """``[--job J] [--stage S] [--namespace NS] [--reason R] [--store X] [--url U] [--]
    COMMAND…`` (also
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
        if name not in _OPTION_NAMES:
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
    namespace: str | None = None,
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
    if namespace is not None:
        from threadline.config import Settings

        Settings(namespace=namespace)  # checks it before the command starts, naming the value
    base = os.environ if environ is None else environ
    if url:
        base = {**base, URL_SETTING_ENV: url}  # the command's processes see it too
    listener = Listener()
    env = child_environment(
        base,
        socket_path=listener.path,
        job=job,
        stage=stage,
        reason=reason,
        store=store,
        namespace=namespace,
    )
    try:
        child = spawn(command, env)
    except OSError as exc:
        listener.discard()
        from threadline.errors import UsageError

        raise UsageError(f"cannot run {command[0]!r}: {exc}") from exc
    from threadline.capture.supervisor import supervise

    return supervise(child, listener, store=store, url=url)


def spawn(command: Sequence[str], env: Mapping[str, str]) -> int:
    """Start ``command`` (searched on PATH) and return its pid.

    ``posix_spawn`` rather than ``subprocess``, whose import alone is a quarter of the
    launcher's start; like ``exec``, and unlike ``Popen``, the command keeps the descriptors
    it was given (a ``make`` jobserver's, a shell's ``3>``): a wrapper should not take them.
    Python ignores SIGPIPE and SIGXFSZ for itself; the command gets their defaults back, as
    ``Popen`` gives them.
    """
    return os.posix_spawnp(
        command[0],
        list(command),
        dict(env),
        setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ),
    )


def cli_run(argv: Sequence[str]) -> int | None:
    """``threadline run ARGV`` without Typer: the exit status, or ``None`` to use the full CLI
    (``--help``, an unknown option, no command)."""
    parsed = parse_run_args(argv)
    if parsed is None:
        return None
    options, command = parsed
    url = options.get("url")
    try:
        if url is not None or _settings_in_environment() or may_name_a_server(os.getcwd()):
            url = _server_url(url)
        return run(
            command,
            job=options.get("job"),
            stage=options.get("stage"),
            reason=options.get("reason"),
            store=options.get("store"),
            url=url,
            namespace=options.get("namespace"),
        )
    except Exception as exc:
        from threadline.errors import ThreadlineError

        if not isinstance(exc, ThreadlineError):
            raise
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code


def _settings_in_environment() -> bool:
    """Whether a ``THREADLINE_*`` variable could hold a setting that is wrong (every one but
    the store, whose problems show only when it is opened): they are checked before the
    command starts."""
    return any(key.startswith("THREADLINE_") and key != STORE_SETTING_ENV for key in os.environ)


def _server_url(url: str | None) -> str | None:
    """The server the run's lineage goes to, checked: a bad THREADLINE_URL (or ``url`` in a
    settings file) is refused before the command starts, as a bad ``--url`` is, instead of a
    run without lineage that exits 0.  The settings are resolved by config alone."""
    from threadline.config import current

    settings = current()
    if url is None and not settings.url:
        return None
    from threadline.capture.http_sink import resolve_url

    return resolve_url(url, settings)


#: The files :mod:`threadline.config` may read settings from, in each folder up from the
#: working directory, and what a ``pyproject.toml`` holding them must contain.
SETTINGS_FILES = ("threadline.toml", "pyproject.toml")
_PYPROJECT_MARK = b"threadline"


def may_name_a_server(start: str) -> bool:
    """Whether a settings file that could name a server URL is found from ``start`` up.

    A cheap, conservative look (a ``stat`` per folder, and the bytes of any
    ``pyproject.toml`` searched for the word): when it says no, no settings file can set
    ``url``, the settings need not be resolved before the command starts (nor config
    imported: a third of the launcher's start-up); the supervisor resolves them once the
    command runs.  It may say yes for a file that sets no ``url``: config then decides.
    """
    folder = start
    while True:
        if os.path.isfile(os.path.join(folder, SETTINGS_FILES[0])):
            return True
        pyproject = os.path.join(folder, SETTINGS_FILES[1])
        if os.path.isfile(pyproject):
            try:
                with open(pyproject, "rb") as handle:
                    if _PYPROJECT_MARK in handle.read():
                        return True
            except OSError:
                return True  # unreadable: config will say what is wrong with it
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent


__all__ = [
    "JOB_ENV",
    "NAMESPACE_SETTING_ENV",
    "REASON_ENV",
    "RUN_OPTIONS",
    "SITE_DIR",
    "SOCKET_ENV",
    "STAGE_ENV",
    "STORE_SETTING_ENV",
    "URL_SETTING_ENV",
    "child_environment",
    "cli_run",
    "may_name_a_server",
    "parse_run_args",
    "run",
    "spawn",
]
