"""The supervisor's side of the store's writer agent (:mod:`threadline.capture.agent`).

:func:`connect_agent` finds the agent of a store, or starts one: it takes the agent's lock,
binds its socket and only then starts the process, passing both on, so the socket exists
before this call returns and a reader always finds either the socket or the lock held.
:class:`AgentSink` hands batches over; :func:`hand_off` leaves a journal to the agent.
Nothing here imports the store: that is the point of the agent.
"""

from __future__ import annotations

import _socket  # socket's C half: see threadline.capture.listener on the launcher's imports
import fcntl
import os
import sys
import threading
import time

from threadline.capture.framing import (
    ACK_OK,
    ACK_REFUSED,
    EVENTS,
    QUESTIONS,
    json_payload,
    recv_exact,
    recv_frame,
    send_frame,
)
from threadline.errors import CaptureError, InvalidEvent
from threadline.store.writer_agent import agent_paths

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, Final

    from threadline.capture.emitter import Sink

#: How long a run tries to reach or start an agent before writing the store itself.
CONNECT_SECONDS: Final = 3.0
#: The role of a supervisor's connection that leaves its journal to the agent.
ADOPT_ROLE: Final = "adopt"
#: Bytes of agent log kept across agent starts (it holds only what an agent could not do).
_LOG_LIMIT: Final = 1 << 20
#: Agents started by this process, reaped once they exit (a test, a notebook lives long).
_started: list[int] = []


def connect_agent(url: str, idle_seconds: float) -> str | None:
    """The socket of the writer agent of the store at ``url``, started if none runs; None
    when none can be reached or started (the caller then writes the store itself)."""
    paths = agent_paths(url)
    deadline = time.monotonic() + CONNECT_SECONDS
    while time.monotonic() < deadline:
        if _listening(paths.socket):
            return paths.socket
        try:
            lock_fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # An agent holds it: it is writing its last batches before exiting.
            os.close(lock_fd)
            time.sleep(0.01)
            continue
        try:
            _start(url, paths.socket, paths.log, lock_fd, idle_seconds)
        except OSError:
            return None
        finally:
            os.close(lock_fd)  # the agent holds the lock now (or nobody does)
        return paths.socket
    return None


def _listening(path: str) -> bool:
    probe = _unix_socket()
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _start(url: str, path: str, log: str, lock_fd: int, idle_seconds: float) -> None:
    _quietly(os.unlink, path)  # a dead agent's: we hold the lock, so no live agent listens there
    listener = _unix_socket()
    try:
        listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen(64)
        _spawn(url, listener.fileno(), lock_fd, log, idle_seconds)
    except OSError:
        _quietly(os.unlink, path)
        raise
    finally:
        listener.close()


def _spawn(url: str, socket_fd: int, lock_fd: int, log: str, idle_seconds: float) -> None:
    """Start the agent in its own session with the two descriptors and nothing else of ours.

    ``posix_spawn`` rather than ``subprocess``: the agent outlives this process by design, and
    a ``Popen`` object would be reported as a leak when a long-lived caller lets it go.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_CAPTURE")}
    argv = [
        sys.executable,
        "-m",
        "threadline.capture.agent",
        url,
        str(socket_fd),
        str(lock_fd),
        repr(idle_seconds),
    ]
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    if os.fstat(out).st_size > _LOG_LIMIT:
        os.ftruncate(out, 0)  # what earlier agents said is kept only up to a limit
    try:
        os.set_inheritable(socket_fd, True)
        os.set_inheritable(lock_fd, True)
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out, 1),
            (os.POSIX_SPAWN_DUP2, out, 2),
        ]
        pid = os.posix_spawn(sys.executable, argv, env, file_actions=actions, setsid=True)
    finally:
        os.close(out)
        os.set_inheritable(socket_fd, False)
        os.set_inheritable(lock_fd, False)
    _reap(pid)


def _reap(started: int | None = None) -> None:
    """Collect agents this process started that have exited (no zombies in a long-lived
    caller); the agent's parent is whoever started it until that one exits."""
    if started is not None:
        _started.append(started)
    for pid in list(_started):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _started.remove(pid)


def _unix_socket() -> _socket.socket:
    return _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)


def _quietly(action: Callable[..., object], *args: object) -> None:
    """``action(*args)``, an OSError ignored (``contextlib.suppress`` without contextlib)."""
    try:  # noqa: SIM105 - that is what this is
        action(*args)
    except OSError:
        pass


def _hello(role: str) -> bytes:
    return json_payload({"role": role, "pid": os.getpid()})


class AgentSink:
    """Emitter sink that hands batches to the store's writer agent and waits for each to be
    written.  If the agent goes away, this batch and the later ones go to ``fallback`` (the
    store opened in this process); a batch written twice is stored once."""

    kind = "agent"

    def __init__(self, path: str, fallback: Callable[[], Sink]) -> None:
        self._fallback = fallback
        self._instead: Sink | None = None
        self._sock = _unix_socket()
        try:
            self._sock.connect(path)
            send_frame(self._sock, _hello(EVENTS))
        except OSError:
            self._sock.close()
            raise

    def emit_batch(self, events: Sequence[dict[str, Any]], *, durable: bool) -> None:
        if self._instead is None and self._handed(
            json_payload({"events": list(events), "durable": durable})
        ):
            return
        assert self._instead is not None
        self._instead.emit_batch(events, durable=durable)

    def emit_frame(self, frame: bytes, events: Sequence[dict[str, Any]], *, durable: bool) -> None:
        """Hand over ``events`` as ``frame``, the batch message a captured process sent
        (:class:`~threadline.capture.supervisor_client.SocketSink`'s, the very message
        :meth:`emit_batch` would send: ``{"events": [...], "durable": ...}``), as received:
        the supervisor relays its bytes instead of encoding the batch again."""
        if self._instead is None and self._handed(frame):
            return
        assert self._instead is not None
        self._instead.emit_batch(events, durable=durable)

    def emit_reports(self, reports: Sequence[dict[str, Any]], *, durable: bool) -> None:
        """Hand over the reports of processes that never started capture: the agent, which
        has capture loaded, builds their script runs (:mod:`threadline.capture.script_run`)."""
        if self._instead is None and self._handed(
            json_payload({"reports": list(reports), "durable": durable})
        ):
            return
        from threadline.capture.script_run import events_of_reports

        assert self._instead is not None
        self._instead.emit_batch(events_of_reports(reports), durable=durable)

    def _handed(self, message: bytes) -> bool:
        """Whether the agent wrote ``message``; False when it went away (the fallback then
        takes this message and every later one).  A refusal is raised."""
        try:
            send_frame(self._sock, message)
            status = recv_exact(self._sock, 1)
        except OSError:
            status = b""
        if status == ACK_OK:
            return True
        if status == ACK_REFUSED:
            reason = recv_frame(self._sock)
            raise InvalidEvent(reason.decode() if reason else "the store refused an event")
        if status:
            raise CaptureError("the store's writer agent could not write the events")
        _quietly(self._sock.close)
        self._instead = self._fallback()
        return False

    @property
    def replaced(self) -> bool:
        """The agent went away and this sink writes to its fallback."""
        return self._instead is not None

    def sync(self) -> None:
        self.emit_batch([], durable=True)

    def close(self, timeout: float) -> bool:
        _quietly(self._sock.close)
        if self._instead is not None:
            return self._instead.close(timeout)
        return True


class AgentQuestions:
    """Relays the questions a run's processes ask (frames of the supervisor's protocol,
    :class:`~threadline.capture.supervisor_client.SupervisorRecorded`) to the agent, which has
    the store open, over one connection; an agent that went away answers nothing (``{}``:
    cannot say), as a store that cannot be read does."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self._path = path
        self._timeout = timeout
        self._sock: _socket.socket | None = None
        self._lock = threading.Lock()
        self._broken = False

    def ask(self, question: bytes) -> bytes:
        with self._lock:
            sock = self._connected()
            if sock is not None:
                try:
                    send_frame(sock, question)
                    answer = recv_frame(sock)
                except (OSError, CaptureError):
                    answer = None
                if answer is not None:
                    return answer
                self._broken = True
            return b"{}"

    def _connected(self) -> _socket.socket | None:
        if self._sock is None and not self._broken:
            sock = _unix_socket()
            try:
                sock.settimeout(self._timeout)
                sock.connect(self._path)
                send_frame(sock, _hello(QUESTIONS))
            except OSError:
                sock.close()
                self._broken = True
                return None
            self._sock = sock
        return self._sock

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                _quietly(self._sock.close)
            self._broken = True


def hand_off(path: str, folder: str) -> bool:
    """Tell the agent at ``path`` that the journal in ``folder`` is its to write (the agent
    also finds it on its own once this process is gone)."""
    sock = _unix_socket()
    sock.settimeout(1.0)
    try:
        sock.connect(path)
        send_frame(sock, json_payload({"role": ADOPT_ROLE, "folder": folder}))
    except OSError:
        return False
    finally:
        sock.close()
    return True


__all__ = [
    "ADOPT_ROLE",
    "CONNECT_SECONDS",
    "AgentQuestions",
    "AgentSink",
    "connect_agent",
    "hand_off",
]
