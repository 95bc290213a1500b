"""A captured process's side of the ``threadline run`` socket: its events out, its questions.

:class:`SocketSink` is the emitter sink that hands batches to the supervisor, which owns the
store: the captured program never pays for opening it (SQLAlchemy alone imports in about a
quarter of a second) and a store that is slow or unreachable never blocks it.
:class:`SupervisorRecorded` is the :class:`~threadline.capture.recorded.Recorded` transport of
such a process: the supervisor, which has the store open already, answers.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson

from threadline.capture.emitter import Sink, settings_sink
from threadline.capture.framing import ACK_OK, EVENTS, QUESTIONS, recv_exact, recv_frame, send_frame
from threadline.capture.journal import journaled_batches
from threadline.capture.listener import SOCKET_FOLDER_PREFIX
from threadline.capture.recorded import Key
from threadline.errors import CaptureError
from threadline.model.ids import NodeId
from threadline.model.serving import Serving


def _hello(role: str) -> bytes:
    return orjson.dumps({"role": role, "pid": os.getpid()})


class SocketSink:
    """Emitter sink that hands batches to the supervising ``threadline run`` process.

    If the supervisor dies (killed, crashed), the process does not lose what it captures next:
    the batch that found it gone and every later one go to the sink the settings name instead
    (the store itself, or the server with its durable spool), and the supervisor's socket
    folder, which nobody else would remove, is removed.  The store and server take a batch
    sent twice as once, so resending the batch in flight is safe.
    """

    kind = "supervisor"

    def __init__(self, path: str, fallback: Callable[[], Sink] = settings_sink) -> None:
        self._path = path
        self._fallback = fallback
        self._instead: Sink | None = None
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(path)
            send_frame(self._sock, _hello(EVENTS))
        except OSError:
            self._sock.close()
            raise

    def emit_batch(self, events: Sequence[dict[str, Any]], *, durable: bool) -> None:
        if self._instead is not None:
            self._instead.emit_batch(events, durable=durable)
            return
        try:
            send_frame(self._sock, orjson.dumps({"events": list(events), "durable": durable}))
            status = recv_exact(self._sock, 1)
        except OSError:
            status = b""
        if status == ACK_OK:
            return
        if status:
            raise CaptureError("the threadline run supervisor could not write the events")
        self._supervisor_gone().emit_batch(events, durable=durable)

    def _supervisor_gone(self) -> Sink:
        with contextlib.suppress(OSError):
            self._sock.close()
        self._instead = take_over(self._path, self._fallback)
        return self._instead

    def sync(self) -> None:
        if self._instead is not None:
            sync = getattr(self._instead, "sync", None)
            if sync is not None:
                sync()
            return
        self.emit_batch([], durable=True)

    def close(self, timeout: float) -> bool:
        with contextlib.suppress(OSError):
            self._sock.close()
        if self._instead is not None:
            return self._instead.close(timeout)
        return True


def take_over(path: str, fallback: Callable[[], Sink] = settings_sink) -> Sink:
    """The sink a process writes to once the supervisor at ``path`` is gone: ``fallback``,
    after it wrote what the supervisor acknowledged but had not written (its journal)."""
    instead = fallback()
    for batch in journaled_batches(os.path.dirname(path)):
        instead.emit_batch(batch, durable=False)
    print(
        "threadline: the threadline run supervisor went away; this process writes its "
        f"lineage itself from now on ({instead.kind})",
        file=sys.stderr,
    )
    _remove_dead_socket_folder(path)
    return instead


def _remove_dead_socket_folder(path: str) -> None:
    """Remove the supervisor's folder once nothing listens on its socket any more."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        folder = os.path.dirname(path)
        if os.path.basename(folder).startswith(SOCKET_FOLDER_PREFIX):
            import shutil  # a rare clean-up, not worth 2.6 ms at every start

            shutil.rmtree(folder, ignore_errors=True)
    except OSError:
        pass
    finally:
        probe.close()


class SupervisorRecorded:
    """Asks the supervisor what earlier runs recorded, over one connection opened on first use.

    What is asked of datasets just read (``produced`` and ``labels``, in one question) is
    pipelined: :meth:`prefetch` sends it as files are read and the answers are collected when
    needed, so a script that reads and then fits does not wait for them.  Answers come back in
    the order asked, so any other question first collects the answers still in flight.  A
    connection that failed once stays broken: capture then goes on without answers rather than
    paying a timeout on every question.
    """

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self._path = path
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._broken = False
        self._answers: dict[Key, bool | None] = {}  # produced
        self._labels: dict[Key, frozenset[str]] = {}
        self._inflight: list[list[Key]] = []

    def _connect(self) -> socket.socket | None:
        """The open connection, or None once broken (call with ``_lock`` held)."""
        if self._sock is None and not self._broken:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
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

    def _send(self, question: dict[str, Any]) -> bool:
        """Send one question (call with ``_lock`` held); False once the connection is broken."""
        sock = self._connect()
        if sock is None:
            return False
        try:
            send_frame(sock, orjson.dumps(question))
        except OSError:
            self._broken = True
            return False
        return True

    def _receive(self) -> dict[str, Any] | None:
        """The next answer (call with ``_lock`` held); None once the connection is broken."""
        if self._broken or self._sock is None:
            return None
        try:
            frame = recv_frame(self._sock)
        except (OSError, CaptureError):
            frame = None
        if frame is None:
            self._broken = True
            return None
        answer: dict[str, Any] = orjson.loads(frame)
        return answer

    def _collect_one(self) -> None:
        """Receive the answers of the oldest prefetch in flight."""
        batch = self._inflight.pop(0)
        answer = self._receive() or {}
        produced = answer.get("produced") or [None] * len(batch)
        labels = answer.get("labels") or [()] * len(batch)
        for key, was_produced, found in zip(batch, produced, labels, strict=False):
            self._answers[key] = was_produced
            self._labels[key] = frozenset(str(x) for x in found or ())

    def prefetch(self, keys: Sequence[Key]) -> None:
        with self._lock:
            asked = {key for batch in self._inflight for key in batch}
            fresh = [k for k in dict.fromkeys(keys) if k not in self._answers and k not in asked]
            if fresh and self._send({"known": fresh}):
                self._inflight.append(fresh)

    def _collect(self, wanted: Sequence[Key], answered: dict[Key, Any]) -> None:
        """Collect answers in flight until every one of ``wanted`` is in ``answered`` or none
        is left in flight (call with ``_lock`` held)."""
        while self._inflight and any(k not in answered for k in wanted):
            self._collect_one()

    def produced(self, keys: Sequence[Key]) -> list[bool | None]:
        self.prefetch(keys)
        with self._lock:
            self._collect(keys, self._answers)
            return [self._answers.get(k) for k in keys]

    def _ask(self, question: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if not self._send(question):
                return {}
            while self._inflight:
                self._collect_one()
            return self._receive() or {}

    def labels(self, key: Key) -> frozenset[str]:
        with self._lock:
            self._collect([key], self._labels)
            if key in self._labels:
                return self._labels[key]
        answer = self._ask({"labels": list(key)})
        return frozenset(str(x) for x in answer.get("labels") or ())

    def serving(self, model: NodeId, at: datetime) -> list[Serving]:
        answer = self._ask({"serving": str(model), "at": at.isoformat()})
        return [Serving(NodeId.parse(node), since) for node, since in answer.get("serving") or ()]

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.close()
            self._sock = None
            self._broken = True


__all__ = ["SocketSink", "SupervisorRecorded", "take_over"]
