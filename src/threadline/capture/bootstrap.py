"""The first thing every captured Python process runs: describe itself, start capture later.

Importing the capture machinery costs a process ~60 ms (the hooks, the recorder, the flow
tracker and the standard library they pull in), and most processes of a pipeline of short
scripts never need it until they import pandas, and some never do.  So a process of a
``threadline run`` command (``sitecustomize`` calls :func:`start`) only:

1. names its script run (a UUIDv7) and sends the supervisor a *process report* of its start:
   pid, start time, command line, working folder, interpreter, environment
   (:mod:`threadline.capture.script_run` says what becomes of it);
2. puts a finder first on ``sys.meta_path`` that waits for the first import of a module a
   capture hook patches, or of threadline's own API.  That import starts capture
   (:func:`threadline.capture.child.bootstrap_child`) before the module loads; the script run
   keeps the id and start time of step 1, and the supervisor is told to drop the report;
3. otherwise, at exit, sends the rest of the report: when it ended, how (exit status, the
   uncaught exception) and the tracked packages it imported.  The store's writer agent builds
   the script run's START and COMPLETE (or FAIL) from the report, with the facets capture
   would have given them.

A process killed before its end leaves its start report with the supervisor, which ends the
run with the command's status, as it ends any run a killed command left open.

The modules a hook patches are remembered in the user's cache folder by the first process
that starts capture, under a stamp of the import path (each entry's modification time) and
threadline's own adapters; when the stamp does not match (a package installed since), the
process starts capture at once, as before, and remembers them anew.

This module imports only what the interpreter has loaded at start or builds in.
"""

from __future__ import annotations

import _thread
import atexit
import marshal
import os
import sys
import time

from threadline._version import __version__
from threadline.capture.cache_folder import cache_folder
from threadline.capture.failure import error_of
from threadline.capture.handshake import EAGER_ENV, PROCESS_ROLE, SOCKET_ENV
from threadline.capture.liveness import process_start
from threadline.capture.packages import package_versions
from threadline.model.machine import python_version
from threadline.model.uuid7 import uuid7_text

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~8 ms
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import ModuleType, TracebackType
    from typing import Any

#: The connection's first frame, as JSON (``json`` is not loaded at start).
_HELLO = b'{"role":"%s"}' % PROCESS_ROLE.encode()

_lock = _thread.allocate_lock()


class _Process:
    """This process, as reported: what its end report needs, and whether capture took over."""

    __slots__ = (
        "captured",
        "error",
        "exit_status",
        "finder",
        "path",
        "pid",
        "report",
        "sock",
        "woken",
    )

    def __init__(self, report: dict[str, Any], sock: Any, finder: _Trigger) -> None:
        self.pid = os.getpid()
        self.report = report
        #: The import path before the script's folder was put first on it.
        self.path = list(sys.path)
        self.sock = sock
        self.finder = finder
        #: Capture was started (once, at the first watched import) …
        self.woken = False
        #: … and runs: the process's run is capture's to report, not the report's.
        self.captured = False
        self.exit_status: object = None
        self.error: tuple[type[BaseException], BaseException, TracebackType | None] | None = None


_process: _Process | None = None


def start(environ: Mapping[str, str] | None = None) -> None:
    """Report this process to ``threadline run``'s supervisor and wait to start capture."""
    global _process
    env = os.environ if environ is None else environ
    path = env.get(SOCKET_ENV)
    if not path or _process is not None:
        return
    run_id = uuid7_text()
    started_us = time.time_ns() // 1000
    stamp = import_path_stamp()
    remembered = _remembered(stamp)
    watched = remembered[0] if remembered is not None else None
    # Capture starts at once when the watched modules are not known yet (the environment's
    # first captured process, or a package installed since), when asked to, or when one is
    # loaded already; the start is reported all the same, so that a process killed before
    # capture's own start reached the supervisor is still ended by the command.
    eager = watched is None or bool(env.get(EAGER_ENV)) or not watched.isdisjoint(sys.modules)
    sock = _connect(path)
    if sock is None:
        _capture(run_id, started_us, stamp)  # which finds the supervisor gone, and says so
        return
    report = {
        "runId": run_id,
        "started": started_us,
        "pid": os.getpid(),
        "processStart": process_start(os.getpid()),
        "argv": list(sys.argv),
        "origArgv": list(getattr(sys, "orig_argv", sys.argv)),
        "cwd": os.getcwd(),
        "python": python_version(),
        "threadline": __version__,
        "packages": package_versions(),
        "environ": dict(env),
    }
    try:
        _send(sock, marshal.dumps({"start": report}))
    except OSError:
        sock.close()
        _capture(run_id, started_us, stamp)
        return
    finder = _Trigger(
        watched or frozenset(), stamp, remembered[1] if remembered is not None else None
    )
    _process = _Process(report, sock, finder)
    _follow_the_end(_process)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork)
    if eager:
        wake()
    else:
        sys.meta_path.insert(0, finder)


class _Trigger:
    """A ``sys.meta_path`` finder that starts capture at the first import it watches."""

    def __init__(self, watched: frozenset[str], stamp: str, catalog: list[Any] | None) -> None:
        self.watched = watched
        self.stamp = stamp
        #: The hooks' catalog remembered with the watched modules (its rows).
        self.catalog = catalog

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> Any:
        top = fullname.partition(".")[0]
        if top not in self.watched and top != "threadline":
            return None
        wake()
        # Capture's own finder (the hooks' post-import patches) is now on the path, after
        # the place the import machinery has reached: ask the finders from the start.
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                return spec
        return None


def wake() -> None:
    """Start capture now: at the first import of a watched module or of threadline's API, or
    at the process's start.  The supervisor keeps the process's report until capture's own
    events of the run reach it, so a process killed before they leave it still has its run."""
    process = _process
    if process is None:
        return
    with _lock:
        if process.woken or process.pid != os.getpid():
            return
        process.woken = True
        _remove(process.finder)
        run_id = process.report["runId"]
        # Capture's own imports resolve as they would have at the process's start: the
        # script's folder is first on the path by now, and a script named copy.py or
        # types.py there would stand in for the standard library's module.
        path, sys.path[:] = sys.path[:], process.path
        try:
            from threadline.collector import uncounted_objects

            # Capture's modules must not bring the program's next full collection forward.
            with uncounted_objects():
                _capture(
                    run_id,
                    process.report["started"],
                    process.finder.stamp,
                    process.report["cwd"],
                    process.finder.catalog,
                )
        except Exception as exc:  # never fail the user's import: the report still says it all
            print(
                f"threadline: automatic capture is off: {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            return
        finally:
            sys.path[:] = path
        process.captured = True
        try:  # noqa: SIM105 - contextlib is not loaded at start
            # Capture reports the script run itself, under the same id.
            _send(process.sock, marshal.dumps({"captured": run_id}))
        except OSError:
            pass


def _capture(
    run_id: str,
    started_us: int,
    stamp: str,
    cwd: str | None = None,
    catalog: list[Any] | None = None,
) -> None:
    """Start capture in this process, its script run named ``run_id``, started then, in
    the folder ``cwd`` (the script may have changed folders since), with the hooks'
    ``catalog`` remembered under ``stamp`` if there is one."""
    from threadline.capture.child import bootstrap_child
    from threadline.capture.hooks import use_catalog
    from threadline.model.times import iso

    if catalog is not None:
        use_catalog(catalog)

    bootstrap_child(run_id=run_id, started=iso(started_us), cwd=cwd)
    remember_watched(stamp)


def _follow_the_end(process: _Process) -> None:
    """Note how the process ends (``sys.exit``'s status, an uncaught exception) and report it."""
    previous_exit = sys.exit
    previous_hook = sys.excepthook

    def exit_(status: object = None) -> None:
        process.exit_status = status
        previous_exit(status)  # type: ignore[arg-type]  # sys.exit takes any object
        raise SystemExit(status)  # pragma: no cover - the original always raises

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        process.error = (kind, value, tb)
        previous_hook(kind, value, tb)

    sys.exit = exit_  # type: ignore[assignment]
    sys.excepthook = excepthook
    atexit.register(_at_exit, process)


def _at_exit(process: _Process) -> None:
    with _lock:
        if process.pid != os.getpid():
            return
        process.woken = True  # nothing starts capture from here on
        _remove(process.finder)
    if process.captured:
        _close(process.sock)
        return
    main = sys.modules.get("__main__")
    end: dict[str, Any] = {
        "runId": process.report["runId"],
        "ended": time.time_ns() // 1000,
        "argv": list(sys.argv),
        "packages": package_versions(),
        "mainFile": getattr(main, "__file__", None),
        "mainSpec": getattr(getattr(main, "__spec__", None), "name", None),
    }
    if process.error is not None:
        end["error"] = list(error_of(*process.error))
    elif process.exit_status is not None and process.exit_status != 0:
        end["exitStatus"] = str(process.exit_status)
    try:
        _send(process.sock, marshal.dumps({"end": end}))
        _close(process.sock)
    except OSError:
        _close(process.sock)
        _write_without_supervisor(process.report, end)


def _write_without_supervisor(start: dict[str, Any], end: dict[str, Any]) -> None:
    """The supervisor is gone: write the run as capture would have, where it was going
    (with what the supervisor's journal still held)."""
    from threadline.capture.script_run import events_of_reports
    from threadline.capture.supervisor_client import take_over

    events = events_of_reports([{"start": start, "end": end}])
    try:
        sink = take_over(os.environ.get(SOCKET_ENV) or "")
        sink.emit_batch(events, durable=False)
        sink.close(10.0)
    except Exception as exc:  # at exit: say so, never raise into the interpreter's shutdown
        print(f"threadline: could not write this process's run: {exc}", file=sys.stderr)


def _after_fork() -> None:
    # A forked child is not the process reported: it neither starts capture nor reports.
    process = _process
    if process is not None:
        _remove(process.finder)


# --- the socket -------------------------------------------------------------------------------


def _connect(path: str) -> Any:
    import _socket  # socket.py would import enum, selectors…: 3 ms

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
        _send(sock, _HELLO)
    except OSError:
        sock.close()
        return None
    return sock


def _send(sock: Any, payload: bytes) -> None:
    # threadline.capture.framing's frame: a 4-byte big-endian length, then the payload.
    sock.sendall(len(payload).to_bytes(4, "big") + payload)


def _close(sock: Any) -> None:
    try:  # noqa: SIM105 - contextlib is not loaded at start
        sock.close()
    except OSError:
        pass


def _remove(finder: _Trigger) -> None:
    try:  # noqa: SIM105 - contextlib is not loaded at start
        sys.meta_path.remove(finder)
    except ValueError:
        pass


# --- what capture watches ---------------------------------------------------------------------


def import_path_stamp() -> str:
    """What decides which hooks a process may find: threadline's version and adapters, and
    each import path entry with its modification time (installing a package changes it)."""
    parts = [__version__]
    hooks = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hooks")
    try:
        with os.scandir(hooks) as listing:
            parts += sorted(
                f"{e.name}@{e.stat().st_mtime_ns}" for e in listing if e.name.endswith(".py")
            )
    except OSError:
        pass
    for entry in sys.path:
        try:
            parts.append(f"{entry}@{os.stat(entry or os.curdir).st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}@-")
    return "\n".join(parts).replace("\0", "")


def _watched_file() -> str | None:
    """One file per Python environment (two virtual environments never share it)."""
    folder = cache_folder()
    if folder is None:
        return None
    from binascii import crc32  # built in

    key = crc32(f"{sys.prefix}\0{sys.executable}".encode(errors="surrogateescape"))
    return os.path.join(folder, f"watched-{key:08x}")


def _watched(stamp: str) -> frozenset[str] | None:
    """The top-level modules capture hooks patch, if remembered under ``stamp``."""
    remembered = _remembered(stamp)
    return remembered[0] if remembered is not None else None


def _remembered(stamp: str) -> tuple[frozenset[str], list[Any]] | None:
    """The top-level modules capture hooks patch and the hooks' catalog
    (:func:`threadline.capture.hooks.catalog`'s rows), if remembered under ``stamp``: a
    process that starts capture then reads the catalog here instead of scanning every
    installed distribution on its import path for it (~3 ms)."""
    path = _watched_file()
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            content = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(content, dict) or content.get("stamp") != stamp:
        return None
    names, catalog = content.get("modules"), content.get("catalog")
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        return None
    if not isinstance(catalog, list) or not all(_is_catalog_row(row) for row in catalog):
        return None
    return frozenset(names), catalog


def _is_catalog_row(row: object) -> bool:
    """``[name, reference, [target, …]]``, all text."""
    return (
        isinstance(row, list)
        and len(row) == 3
        and isinstance(row[0], str)
        and isinstance(row[1], str)
        and isinstance(row[2], list)
        and all(isinstance(t, str) for t in row[2])
    )


def remember_watched(stamp: str) -> None:
    """Remember the top-level modules the hooks patch, for processes under the same stamp.

    ``stamp`` is this process's at its start; the import path must be as it was then."""
    path = _watched_file()
    if path is None or _watched(stamp) is not None:
        return
    from threadline.capture.hooks import catalog

    entries = catalog()
    modules = sorted({t.partition(".")[0] for entry in entries for t in entry.targets})
    rows = [[entry.name, entry.reference, list(entry.targets)] for entry in entries]
    # Capture's start may have changed a path entry's time since: importing a hook adapter
    # that lies directly in it writes its bytecode into a new __pycache__ folder there.  The
    # next process's stamp is taken after that, so it is the one to remember.
    stamp = import_path_stamp()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{os.getpid()}"
        with open(partial, "wb") as handle:
            marshal.dump({"stamp": stamp, "modules": modules, "catalog": rows}, handle)
        os.replace(partial, path)
    except OSError:
        pass


__all__ = ["import_path_stamp", "remember_watched", "start", "wake"]
