"""Automatic capture: ``threadline.autocapture()`` and the ``threadline run --`` bootstrap.

``threadline run [--job J] [--stage S] [--reason R] -- python script.py ARGS…`` works the way
``opentelemetry-instrument`` and ``ddtrace-run`` do: it starts the command with a folder holding
a ``sitecustomize.py`` put first on the child's ``PYTHONPATH``, and passes its settings in the
child's environment only (``THREADLINE_CAPTURE_SOCKET``, ``THREADLINE_RUN_JOB``,
``THREADLINE_RUN_STAGE``, ``THREADLINE_RUN_REASON``, ``THREADLINE_STORE``).  Each Python process
of the command (not multiprocessing or loky workers) then calls :func:`autocapture` before its
first line runs; the script is never rewritten.  A ``sitecustomize`` found further on the path
is still run.

The supervising ``threadline run`` process owns the store: captured processes send their event
batches over a Unix socket and the supervisor writes them, so the captured program never pays
for opening the store (SQLAlchemy alone imports in about a quarter of a second) and a store
that is slow or unreachable never blocks it.  The supervisor also answers "was this file
written by a recorded run?" (stage inference) from the store.

Without the supervisor, :func:`autocapture` writes through the process-wide emitter.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, NoReturn

from threadline.capture import launch
from threadline.capture.boundary import capture_boundary, report
from threadline.capture.launch import (
    JOB_ENV,
    REASON_ENV,
    SOCKET_ENV,
    STAGE_ENV,
    Listener,
    child_environment,
    cli_run,
)
from threadline.errors import CaptureError

#: The folder put first on the child's PYTHONPATH (it holds only ``sitecustomize.py``).
SITE_DIR: Final = Path(launch.SITE_DIR)

_HEADER = struct.Struct(">I")
_MAX_FRAME: Final = 256 * 1024 * 1024

# --- framing -----------------------------------------------------------------------------


def send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket) -> bytes | None:
    header = recv_exact(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > _MAX_FRAME:
        raise CaptureError(f"a capture frame of {size} bytes is over the limit")
    return recv_exact(sock, size) if size else b""


# --- the captured process's side -----------------------------------------------------------


class SocketSink:
    """Emitter sink that hands batches to the supervising ``threadline run`` process."""

    kind = "supervisor"

    def __init__(self, path: str) -> None:
        import orjson

        self._dumps = orjson.dumps
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        send_frame(self._sock, orjson.dumps({"role": "events", "pid": os.getpid()}))

    def emit_batch(self, events: Sequence[dict[str, Any]], *, durable: bool) -> None:
        send_frame(self._sock, self._dumps({"events": list(events), "durable": durable}))
        status = recv_exact(self._sock, 1)
        if status != b"\x01":
            raise CaptureError(
                "the threadline run supervisor could not write the events to the store"
                if status
                else "the threadline run supervisor went away"
            )

    def sync(self) -> None:
        self.emit_batch([], durable=True)

    def close(self, timeout: float) -> bool:
        with contextlib.suppress(OSError):
            self._sock.close()
        return True


class _SupervisorLink:
    """One connection to the supervisor for questions, opened on first use.

    A connection that failed once stays broken: capture then goes on without answers
    rather than paying a timeout on every question."""

    role: str

    def __init__(self, path: str, timeout: float) -> None:
        self._path = path
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._broken = False

    def _connect(self) -> socket.socket | None:
        """The open connection, or None once broken (call with ``_lock`` held)."""
        if self._sock is None and not self._broken:
            import orjson

            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self._timeout)
                sock.connect(self._path)
                send_frame(sock, orjson.dumps({"role": self.role, "pid": os.getpid()}))
            except OSError:
                self._broken = True
                return None
            self._sock = sock
        return self._sock

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.close()
            self._sock = None
            self._broken = True


class SupervisorOracle(_SupervisorLink):
    """Asks the supervisor whether files were written by recorded runs (cached answers)."""

    role = "oracle"

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        super().__init__(path, timeout)
        self._answers: dict[tuple[str, str], bool | None] = {}
        self._inflight: list[list[tuple[str, str]]] = []

    def prefetch(self, nodes: Sequence[Any]) -> None:
        import orjson

        keys = [(n.namespace, n.name) for n in nodes]
        with self._lock:
            keys = [k for k in keys if k not in self._answers and not self._pending(k)]
            sock = self._connect() if keys else None
            if sock is None:
                return
            try:
                send_frame(sock, orjson.dumps({"nodes": keys}))
            except OSError:
                self._broken = True
                return
            self._inflight.append(keys)

    def _pending(self, key: tuple[str, str]) -> bool:
        return any(key in batch for batch in self._inflight)

    def produced(self, node: Any) -> bool | None:
        key = (node.namespace, node.name)
        with self._lock:
            if key in self._answers:
                return self._answers[key]
        self.prefetch([node])
        with self._lock:
            while key not in self._answers and self._inflight and not self._broken:
                self._receive_one()
            return self._answers.get(key)

    def _receive_one(self) -> None:
        import orjson

        batch = self._inflight.pop(0)
        try:
            frame = recv_frame(self._sock) if self._sock is not None else None
        except (OSError, CaptureError):
            frame = None
        if frame is None:
            self._broken = True
            for key in batch:
                self._answers[key] = None
            return
        answers = orjson.loads(frame).get("produced") or []
        for key, answer in zip(batch, answers, strict=False):
            self._answers[key] = answer


class SupervisorRecorded(_SupervisorLink):
    """Answers what earlier runs recorded (labels, serving deployments) by asking the
    supervisor, which has the store open already: a captured script then never imports
    SQLAlchemy nor opens the store itself (that cost a quarter of a second per script).
    Implements :class:`threadline.capture.flow.Recorded`; answers are cached."""

    role = "recorded"

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        super().__init__(path, timeout)
        self._labels: dict[tuple[str, str], frozenset[str]] = {}

    def start(self) -> None:
        return None  # nothing to get ready: the supervisor opened the store

    def _ask(self, question: dict[str, Any]) -> dict[str, Any] | None:
        import orjson

        with self._lock:
            sock = self._connect()
            if sock is None:
                return None
            try:
                send_frame(sock, orjson.dumps(question))
                frame = recv_frame(sock)
            except (OSError, CaptureError):
                frame = None
            if frame is None:
                self._broken = True
                return None
            answer: dict[str, Any] = orjson.loads(frame)
            return answer

    def labels(self, node: Any) -> frozenset[str]:
        key = (node.namespace, node.name)
        if key not in self._labels:
            answer = self._ask({"labels": list(key)}) or {}
            self._labels[key] = frozenset(str(x) for x in answer.get("labels") or ())
        return self._labels[key]

    def serving(self, model: Any, at: Any) -> list[Any]:
        from threadline.capture.flow import Serving
        from threadline.model.ids import NodeId

        if model.version is None:
            return []
        answer = self._ask({"serving": str(model), "at": at.isoformat()}) or {}
        return [Serving(NodeId.parse(node), since) for node, since in answer.get("serving") or ()]


class _StoreOracle:
    """The oracle of an in-process store (``autocapture()`` without the supervisor)."""

    def __init__(self, answer: Callable[[list[tuple[str, str]]], list[bool | None]]) -> None:
        self._answer = answer
        self._answers: dict[tuple[str, str], bool | None] = {}

    def prefetch(self, nodes: Sequence[Any]) -> None:
        return None

    def produced(self, node: Any) -> bool | None:
        key = (node.namespace, node.name)
        if key not in self._answers:
            answer: bool | None = None
            with capture_boundary("capture.oracle"):
                answer = self._answer([key])[0]
            self._answers[key] = answer
        return self._answers[key]


def _in_process_answer(keys: list[tuple[str, str]]) -> list[bool | None]:
    from threadline.capture.emitter import get_emitter
    from threadline.capture.http_sink import HttpSink

    sink = get_emitter().sink
    if isinstance(sink, HttpSink):
        # Capturing to a server: it knows (None, unknown, while it cannot be asked).
        return sink.produced(keys)
    store = getattr(sink, "store", None)
    if store is None:
        raise CaptureError("the emitter writes to no local store; stage inference is limited")
    from threadline.query.recorded import produced

    return list(produced(store, keys))


# --- autocapture ---------------------------------------------------------------------------


@dataclass
class Session:
    """One process's automatic capture: the recorder, its hooks and the root run."""

    capture: Any
    hooks: Any
    previous_excepthook: Any = None
    error: tuple[type[BaseException], BaseException, TracebackType | None] | None = None
    #: What the script passed to ``sys.exit`` (None when it did not call it).
    exit_status: object = None
    previous_exit: Any = None
    stopped: bool = False
    owns_emitter: bool = False


_session: Session | None = None
_session_lock = threading.Lock()


def current_session() -> Session | None:
    return _session


def default_job(argv: Sequence[str] | None = None, orig: Sequence[str] | None = None) -> str:
    """The job name of a script run: its path relative to the working directory."""
    argv = list(sys.argv if argv is None else argv)
    orig = list(getattr(sys, "orig_argv", []) if orig is None else orig)
    first = argv[0] if argv else ""
    module_run = first == "-m" or (first.endswith("__main__.py") and "-m" in orig)
    if module_run and "-m" in orig and orig.index("-m") + 1 < len(orig):
        return orig[orig.index("-m") + 1]
    if first in ("", "-c", "-"):
        return "python"
    path = Path(first).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


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
    prediction and metric becomes a child run of it (see :mod:`threadline.capture.flow`).
    Calling it again returns the running session.
    """
    global _session
    with _session_lock:
        if _session is not None and not _session.stopped:
            return _session
        session = _start(
            job,
            stage=stage,
            reason=reason,
            namespace=namespace,
            oracle=_StoreOracle(_in_process_answer),
            script=script,
        )
        _session = session
    atexit.register(_at_exit, session)
    return session


def _start(
    job: str | None,
    *,
    stage: str | None,
    reason: str | None,
    namespace: str | None,
    oracle: Any = None,
    recorded: Any = None,
    script: str | None = None,
) -> Session:
    from threadline.capture.flow import Capture, start_root
    from threadline.capture.hooks import Hooks
    from threadline.capture.labels import from_settings
    from threadline.config import current
    from threadline.model import facets as f

    settings = current()
    if stage is not None:
        f.stage(stage)  # validates, naming the known stages
    labels = from_settings(settings)
    name = job or default_job()
    capture = Capture(
        job=name,
        namespace=namespace or settings.namespace,
        labels=labels,
        stage=stage,
        oracle=oracle,
        recorded=recorded,
    )
    hooks = Hooks(capture, debug=settings.debug)
    session = Session(capture=capture, hooks=hooks)

    def info() -> dict[str, Any]:
        return {
            **capture.info(),
            "hooks": sorted(hooks.installed),
            "skipped": sorted(hooks.skipped),
        }

    capture.root = start_root(
        name, stage=stage, namespace=capture.namespace, reason=reason, info=info
    )
    script = script or (sys.argv[0] if sys.argv else "")
    if script and os.path.isfile(script):
        capture.root.script = os.path.abspath(script)
    from threadline.capture.environment import prefetch

    prefetch(capture.root.script)
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
        session.previous_exit(status)
        raise SystemExit(status)  # pragma: no cover - the original always raises

    sys.exit = exit_
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork)
    return session


def _after_fork() -> None:
    # A forked child shares our patches but not our emitter thread: capture stays off there.
    from threadline.capture.hooks._patch import set_enabled

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
    close = getattr(capture.oracle, "close", None)
    if close is not None:
        with capture_boundary("capture.oracle"):
            close()
    root = capture.root
    if root is not None:
        with capture_boundary("capture.root"):
            if root.stage is None:
                root.stage = capture.inferred_stage()
            kind, value, tb = session.error or _failed_exit(session.exit_status)
            _exit_root(root, kind, value, tb)
    if uninstall:
        session.hooks.uninstall()
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
    root: Any,
    kind: type[BaseException] | None,
    value: BaseException | None,
    tb: TracebackType | None,
) -> None:
    try:
        root.__exit__(kind, value, tb)
    except ValueError:
        # The context variable was set in another context (e.g. at interpreter exit): the
        # run's end is still worth recording, so emit it without resetting the variable.
        from threadline.capture.context import current_run

        root._token = current_run.set(root)
        root.__exit__(kind, value, tb)


def _at_exit(session: Session) -> None:
    stop(session, uninstall=False)
    from threadline.capture import emitter

    emitter.shutdown()


# --- the child bootstrap (called from sitecustomize) ---------------------------------------

_WORKER_MARKERS: Final = ("--multiprocessing-fork", "multiprocessing", "loky", "joblib.externals")


def is_worker_process(orig_argv: Sequence[str], argv: Sequence[str] = ()) -> bool:
    """Not a script of the user's: multiprocessing/loky workers, or a library's helper script
    (MLflow, for one, runs ``site-packages/mlflow/utils/_capture_modules.py``)."""
    flags = [a for a in orig_argv[1:] if a.startswith("-")]
    if "--multiprocessing-fork" in orig_argv:
        return True
    script = argv[0] if argv else ""
    if script and not script.startswith("-"):
        location = os.path.abspath(script).replace(os.sep, "/")
        if "/site-packages/" in location or "/dist-packages/" in location:
            return True
    if "-c" in flags or "-m" in flags:
        return any(marker in a for a in orig_argv[1:] for marker in _WORKER_MARKERS)
    return False


def bootstrap_child(environ: Mapping[str, str] | None = None) -> Session | None:
    """Start capture in a process launched by ``threadline run`` (from ``sitecustomize``)."""
    env = os.environ if environ is None else environ
    path = env.get(SOCKET_ENV)
    if not path or is_worker_process(getattr(sys, "orig_argv", sys.argv), sys.argv):
        return None
    from threadline.capture.emitter import Emitter, set_emitter
    from threadline.config import current

    settings = current()  # one search for the settings file, shared with _start below
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
    global _session
    with _session_lock:
        session = _start(
            env.get(JOB_ENV) or None,
            stage=env.get(STAGE_ENV) or None,
            reason=env.get(REASON_ENV) or None,
            namespace=None,
            oracle=SupervisorOracle(path),
            recorded=SupervisorRecorded(path),
        )
        session.owns_emitter = True
        _session = session
    atexit.register(_at_exit, session)
    return session


# --- the supervisor (threadline run) ---------------------------------------------------------


class Supervisor:
    """Runs a command with capture on and writes what its processes send to the store.

    Batches are acknowledged as soon as they are received (they are safe here even if the
    command is killed) and written by one writer thread once the store is open; a batch the
    sender marked durable (``strict`` mode) is acknowledged only after its commit.
    """

    def __init__(
        self, store_target: str | None, *, url: str | None = None, listener: Listener | None = None
    ) -> None:
        self.store_target = store_target
        #: A threadline server to ship to instead of the store (else the ``url`` setting).
        self.url = url
        self._listener = listener or Listener()
        self._folder = self._listener.folder
        self.path = self._listener.path
        self._server = self._listener.socket
        self._store: Any = None
        self._store_ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queue: queue.Queue[tuple[list[dict[str, Any]], bool, _Ack | None] | None] = (
            queue.Queue()
        )
        self._writer: threading.Thread | None = None
        self._oracles: list[socket.socket] = []
        self._closing = False
        self.failed_events = 0
        self.events = 0
        self._batches = 0  # handed to the writer thread
        #: The command's process: its script run is failed if the command exits non-zero.
        self.command_pid: int | None = None
        self._completed_roots: dict[str, dict[str, Any]] = {}

    def start(self) -> None:
        """Accept connections now; open the store and write in the background."""
        accept = threading.Thread(target=self._accept, daemon=True, name="threadline-accept")
        accept.start()
        self._writer = threading.Thread(
            target=self._write_loop, daemon=True, name="threadline-writer"
        )
        self._writer.start()

    def _open_store(self) -> None:
        """Open the store, or, when a server URL is set, the sink that ships to it instead."""
        target = "the store"
        try:
            from threadline.config import resolve

            url = self.url or resolve().url
            if url:
                from threadline.capture.http_sink import DEFAULT_SPOOL, HttpSink

                target = url
                # Anchored to the command's folder, where `threadline sync` looks by default.
                self._store = HttpSink(url, spool_dir=DEFAULT_SPOOL.resolve())
            else:
                from threadline.store import open_store

                self._store = open_store(self.store_target)
        except Exception as exc:  # reported once; the command still runs
            print(
                f"threadline: cannot use {target} ({exc}); the command runs without lineage",
                file=sys.stderr,
            )
        finally:
            self._store_ready.set()

    def _write_loop(self) -> None:
        self._open_store()
        while True:
            item = self._queue.get()
            if item is None:
                return
            events, durable, ack = item
            ok = self._append(events, durable)
            if ack is not None:
                ack.ok = ok
                ack.done.set()

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        import orjson

        with conn:
            try:
                hello = recv_frame(conn)
                if hello is None:
                    return
                role = orjson.loads(hello).get("role")
                if role != "events":
                    self._oracles.append(conn)
                while True:
                    frame = recv_frame(conn)
                    if frame is None:
                        return
                    message = orjson.loads(frame)
                    if role == "events":
                        events = message.get("events") or []
                        self._note_completed_roots(events)
                        if message.get("durable"):
                            ack = _Ack()
                            self._batches += 1
                            self._queue.put((events, True, ack))
                            ack.done.wait()
                            conn.sendall(b"\x01" if ack.ok else b"\x00")
                        else:
                            self._batches += 1
                            self._queue.put((events, False, None))
                            conn.sendall(b"\x01")
                    elif role == "recorded":
                        self._store_ready.wait()
                        send_frame(conn, orjson.dumps(self._recorded(message)))
                    else:
                        self._store_ready.wait()
                        answers = self._produced(message.get("nodes") or [])
                        send_frame(conn, orjson.dumps({"produced": answers}))
            except (OSError, ValueError, CaptureError):
                return

    def _note_completed_roots(self, events: list[dict[str, Any]]) -> None:
        """Remember the command's own script run when it reports COMPLETE."""
        if self.command_pid is None:
            return
        for event in events:
            if event.get("eventType") != "COMPLETE":
                continue
            run = event.get("run") or {}
            facets = run.get("facets") or {}
            context = facets.get("threadline_context") or {}
            if "parent" not in facets and context.get("pid") == self.command_pid:
                self._completed_roots[str(run.get("runId"))] = event

    def fail_completed_roots(self, status: int) -> None:
        """The command exited with ``status`` != 0 after its script run reported COMPLETE
        (``raise SystemExit(1)``, ``os._exit``, a C extension's exit: nothing the script's
        own hooks can see): record that run as failed.  The FAIL comes later than the
        COMPLETE, so the run's state is FAIL whatever order the store sees them in."""
        if not self._completed_roots:
            return
        from threadline.model.events import PRODUCER

        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
        failures = []
        for event in self._completed_roots.values():
            run = dict(event["run"])
            run["facets"] = {
                **run.get("facets", {}),
                "errorMessage": {
                    "_producer": PRODUCER,
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/"
                    "ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
                    "message": f"the command exited with status {status}",
                    "programmingLanguage": "python",
                },
            }
            failures.append({**event, "eventType": "FAIL", "eventTime": stamp, "run": run})
        self._completed_roots.clear()
        self._batches += 1
        self._queue.put((failures, False, None))

    def _append(self, events: list[dict[str, Any]], durable: bool) -> bool:
        if self._store is None:
            self.failed_events += len(events)
            return False
        try:
            if events and getattr(self._store, "kind", None) == "http":
                # Returns once the server committed the batch or it is durably spooled.
                self._store.emit_batch(events, durable=durable)
                self.events += len(events)
            elif events:
                self._store.append_batch(events, durable=durable)
                self.events += len(events)
            elif durable and hasattr(self._store, "sync"):
                # (The HTTP sink has no sync: it buffers nothing, each batch is already durable.)
                self._store.sync()
        except Exception as exc:
            if not self.failed_events:
                print(f"threadline: could not write lineage events: {exc}", file=sys.stderr)
            self.failed_events += len(events)
            return False
        return True

    def _recorded(self, question: dict[str, Any]) -> dict[str, Any]:
        """A :class:`SupervisorRecorded` question, answered from the store (nothing when the
        events go to a server: it cannot be asked these yet)."""
        if self._store is None or getattr(self._store, "kind", None) == "http":
            return {}
        from threadline.capture import flow

        try:
            if "labels" in question:
                namespace, name = question["labels"]
                key = (str(namespace), str(name))
                facets = self._store.read(lambda conn: flow._node_facets(conn, key))
                return {"labels": sorted(flow._classification(facets))}
            if "serving" in question:
                from datetime import datetime

                from threadline.model.ids import NodeId

                model = NodeId.parse(str(question["serving"]))
                at = datetime.fromisoformat(str(question["at"]))
                found = self._store.read(lambda conn: flow._serving(conn, model, at))
                return {"serving": [[str(s.node), s.valid_from] for s in found]}
        except Exception:  # a question must never break the command: no answer
            return {}
        return {}

    def _produced(self, keys: list[list[str]]) -> list[bool | None]:
        if self._store is None:
            return [None] * len(keys)
        try:
            pairs = [(k[0], k[1]) for k in keys]
            if getattr(self._store, "kind", None) == "http":
                # The server's store knows; None (unknown) when it cannot be asked right now.
                answers: list[bool | None] = self._store.produced(pairs)
                return answers
            from threadline.query.recorded import produced

            return list(produced(self._store, pairs))
        except Exception:
            return [None] * len(keys)

    def close(self, timeout: float = 60.0) -> None:
        """Stop accepting, write everything received, close the store."""
        self._closing = True
        with contextlib.suppress(OSError):
            self._server.close()
        for conn in self._oracles:
            # Questions need no draining; only event connections are waited for.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout)
        self._queue.put(None)
        if self._writer is not None and (self._batches or self._store_ready.is_set()):
            # With nothing to write, a store still opening (an SQLAlchemy import) is not
            # waited for: a command that captured nothing ends as fast as it would alone.
            self._writer.join(timeout)
        if self._store is not None:
            with contextlib.suppress(Exception):
                self._store.close()
        if self.failed_events:
            print(
                f"threadline: {self.failed_events} lineage event(s) could not be written",
                file=sys.stderr,
            )
        shutil.rmtree(self._folder, ignore_errors=True)


class _Ack:
    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


#: ``threadline run`` as a function (see :func:`threadline.capture.launch.run`).
run_command = launch.run


def supervise(
    child: subprocess.Popen[bytes], listener: Listener, *, store: str | None, url: str | None
) -> int:
    """Serve the started command's capture until it exits; return its exit status."""
    supervisor = Supervisor(store, url=url, listener=listener)
    supervisor.command_pid = child.pid
    # The command runs at full priority; writing its lineage is background work that should
    # only use a core the command leaves idle (SCHED_IDLE on Linux, else the lowest nice).
    _background_priority()
    supervisor.start()
    previous = _forward_signals(child)
    code = 0
    try:
        code = child.wait()
    finally:
        _restore_signals(previous)
        if code != 0:
            supervisor.fail_completed_roots(code)
        supervisor.close()
    return 128 - code if code < 0 else code


def _background_priority() -> None:
    scheduler = getattr(os, "sched_setscheduler", None)
    idle = getattr(os, "SCHED_IDLE", None)
    if scheduler is not None and idle is not None:
        with contextlib.suppress(OSError):
            scheduler(0, idle, os.sched_param(0))
            return
    with contextlib.suppress(OSError, AttributeError):
        os.nice(19)


def _forward_signals(child: subprocess.Popen[bytes]) -> dict[int, Any]:
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous

    def forward(signum: int, frame: Any) -> None:
        with contextlib.suppress(OSError):
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, forward)
    # Ctrl-C reaches the whole foreground process group: the command gets it by itself, and
    # we stay up to write what it sends while it shuts down.
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


__all__ = [
    "Session",
    "SocketSink",
    "Supervisor",
    "autocapture",
    "bootstrap_child",
    "child_environment",
    "cli_run",
    "current_session",
    "default_job",
    "run_command",
    "stop",
    "supervise",
]
