"""The ``threadline run`` supervisor: it owns the store and serves the command's processes.

Captured processes send their event batches over a Unix socket and the supervisor writes them,
so the captured program never pays for opening the store and a store that is slow or
unreachable never blocks it.  It also answers their questions about what earlier runs recorded
(:class:`~threadline.capture.recorded.Recorded`), from the store it has open, or from the
server when the events go to one.

Batches are acknowledged as soon as they are received (they are safe here even if the command
is killed) and written by one writer thread once the store is open; a batch the sender marked
durable (``strict`` mode) is acknowledged only after its commit.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any, Final

import orjson

from threadline.capture.agent_client import hand_off
from threadline.capture.boundary import report
from threadline.capture.framing import ACK_FAILED, ACK_OK, EVENTS, recv_frame, send_frame
from threadline.capture.journal import Journal, journaled_batches, orphaned_folders
from threadline.capture.listener import SOCKET_FOLDER_PREFIX, Listener
from threadline.capture.run_ends import RunEnds
from threadline.capture.signals import background_priority, forward_signals, restore_signals
from threadline.config import Settings, current, with_overrides
from threadline.errors import CaptureError, InvalidEvent

if TYPE_CHECKING:
    from threadline.capture.destination import Destination
    from threadline.capture.emitter import Sink


#: How long closing the destination may take (an HTTP sink's last replay of its spool).
_CLOSE_TIMEOUT = 10.0
#: How long a run that ends waits for the agent to write its last batches before it leaves
#: them in its journal for the agent (a warm agent writes a short command's in a few ms).
_HAND_OFF_AFTER = 0.03


class _Ack:
    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


#: The acknowledgement slot of a batch acknowledged on receipt and kept in the journal.
_JOURNALED: Final = _Ack()


class Supervisor:
    """Runs a command with capture on and writes what its processes send to the store."""

    def __init__(
        self, store_target: str | None, *, url: str | None = None, listener: Listener | None = None
    ) -> None:
        #: The store ``threadline run`` was given (else the ``store`` setting).
        self.store_target = store_target
        #: A threadline server to ship to instead of the store (else the ``url`` setting).
        self.url = url
        self._listener = listener or Listener()
        self._folder = self._listener.folder
        self.path = self._listener.path
        self._journal = Journal(self._folder)
        self._settings: Settings | None = None
        self._settings_error: Exception | None = None
        self._server = self._listener.socket
        self._destination: Destination | None = None
        self._unusable_said = False
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queue: queue.Queue[tuple[list[dict[str, Any]], bool, _Ack | None] | None] = (
            queue.Queue()
        )
        self._writer: threading.Thread | None = None
        self._questions: list[socket.socket] = []
        self._closing = False
        self.failed_events = 0
        self.events = 0
        self._batches = 0  # handed to the writer thread
        #: The state of each run the command reports, to end those it leaves open.
        self.run_ends = RunEnds(command_pid=None)

    def start(self) -> None:
        """Accept connections now; open the store and write in the background."""
        try:
            # The explicit choices of `threadline run` first, then THREADLINE_*, the settings
            # file and the defaults.
            self._settings = with_overrides(current(), store=self.store_target, url=self.url)
            # Before the first acknowledgement: a journal must say where its batches go.
            self._journal.mark_destination(self._settings.url or self._settings.store_url)
        except Exception as exc:  # reported when the writer opens the destination
            self._settings_error = exc
        accept = threading.Thread(target=self._accept, daemon=True, name="threadline-accept")
        accept.start()
        self._writer = threading.Thread(
            target=self._write_loop, daemon=True, name="threadline-writer"
        )
        self._writer.start()

    def _open(self) -> None:
        target = "the store"
        try:
            if self._settings is None:
                raise self._settings_error or CaptureError("no settings")
            target = self._settings.url or target
            # Here, on the writer thread: the command is already starting on another core.
            from threadline.capture.destination import agent_destination, open_destination

            self._destination = agent_destination(
                self._settings, self._open_here
            ) or open_destination(self._settings)
        except Exception as exc:  # reported once; the command still runs
            self._unusable(target, exc)
        finally:
            self._ready.set()

    def _open_here(self) -> Sink:
        """The store opened in this process, when its writer agent went away."""
        settings = self._settings
        assert settings is not None  # the agent is used only once the settings resolved
        from threadline.capture.destination import open_destination

        try:
            return open_destination(settings).sink
        except Exception as exc:
            self._unusable("the store", exc)
            raise

    def _unusable(self, target: str, exc: Exception) -> None:
        if not self._unusable_said:
            self._unusable_said = True
            print(
                f"threadline: cannot use {target} ({exc}); the command runs without lineage",
                file=sys.stderr,
            )

    def _write_loop(self) -> None:
        self._open()
        self._recover_orphans()
        while True:
            item = self._queue.get()
            if item is None:
                return
            events, durable, ack = item
            ok = self._append(events, durable)
            if ack is _JOURNALED:
                self._journal.written()
            elif ack is not None:
                ack.ok = ok
                ack.done.set()

    def _recover_orphans(self) -> None:
        """Write what dead supervisors acknowledged and never wrote (their journals), then end
        the runs on this host whose process died with nobody to end them
        (:mod:`threadline.capture.abandoned`): this supervisor is the next writer."""
        if self._destination is None or self._destination.agent is not None:
            return  # the agent adopts dead supervisors' journals and ends abandoned runs
        try:
            base, mine = os.path.dirname(self._folder), self._journal.destination
            for folder in orphaned_folders(base, SOCKET_FOLDER_PREFIX, destination=mine):
                for batch in journaled_batches(folder):
                    self._append(batch, durable=False)
                shutil.rmtree(folder, ignore_errors=True)
            store = self._destination.store
            # Imported here, on the writer thread: its SQLAlchemy import would otherwise hold
            # up the command's start by a fifth of a second.
            from threadline.capture.abandoned import abandoned_run_ends

            ends = abandoned_run_ends(store) if store is not None else []
        except Exception as exc:  # a clean-up, never a reason to lose the command's lineage
            report("threadline run", exc)
            return
        if ends:
            self._append(ends, durable=False)

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
        with conn:
            try:
                hello = recv_frame(conn)
                if hello is None:
                    return
                role = orjson.loads(hello).get("role")
                if role != EVENTS:
                    self._questions.append(conn)
                while True:
                    frame = recv_frame(conn)
                    if frame is None:
                        return
                    if role == EVENTS:
                        self._receive_events(conn, orjson.loads(frame), frame)
                    else:
                        self._ready.wait()
                        send_frame(conn, self._answer(frame))
            except (OSError, ValueError, CaptureError):
                return

    def _receive_events(self, conn: socket.socket, message: dict[str, Any], frame: bytes) -> None:
        events = message.get("events") or []
        self.run_ends.note(events)
        self._batches += 1
        if message.get("durable"):
            ack = _Ack()
            self._queue.put((events, True, ack))
            ack.done.wait()
            conn.sendall(ACK_OK if ack.ok else ACK_FAILED)
        else:
            # Acknowledged before it is written: kept on disk meanwhile, not only in memory.
            self._journal.record(frame)
            self._queue.put((events, False, _JOURNALED))
            conn.sendall(ACK_OK)

    def end_open_runs(self, status: int) -> None:
        """The command ended with ``status`` (as ``Popen.wait`` gives it): end every run it
        left open, and fail its script run if that said COMPLETE but the status is not 0
        (:mod:`threadline.capture.run_ends`)."""
        ends = self.run_ends.ends(status)
        if ends:
            self._batches += 1
            # Journaled like a received batch: the run may be handed to the agent unwritten.
            self._journal.record(orjson.dumps({"events": ends}))
            self._queue.put((ends, False, _JOURNALED))

    def _hand_off(self) -> bool:
        """Leave what is not written yet to the store's writer agent instead of waiting for it
        (a cold agent opening the store, a long backlog): the journal holds every batch not
        acknowledged as written.  Never in ``strict`` mode, whose runs end written."""
        if self._writer is None:
            return False
        self._writer.join(_HAND_OFF_AFTER)
        destination = self._destination
        if (
            not self._writer.is_alive()
            or destination is None
            or destination.agent is None
            or (self._settings is not None and self._settings.strict)
        ):
            return False
        if getattr(destination.sink, "replaced", False):
            return False  # the agent went away: this process writes the rest itself
        self._journal.hand_off()
        if not hand_off(destination.agent, self._folder):
            return False  # nobody to take it: written here, then the folder goes
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # the folder stays, with the journal, for the agent
        return True

    def _append(self, events: list[dict[str, Any]], durable: bool) -> bool:
        destination = self._destination
        if destination is None:
            self.failed_events += len(events)
            return False
        try:
            if events:
                # Over HTTP, returns once the server committed the batch or it is spooled.
                destination.sink.emit_batch(events, durable=durable)
                self.events += len(events)
            elif durable and destination.sync is not None:
                destination.sync()
        except InvalidEvent:
            from threadline.capture.emitter import emit_each

            # One event the store refuses must not cost the batch's others their lineage.
            lost = emit_each(destination.sink, events, durable=durable, where="threadline run")
            self.events += len(events) - lost
            self.failed_events += lost
            return not lost
        except Exception as exc:
            if not self.failed_events and not self._unusable_said:
                print(f"threadline: could not write lineage events: {exc}", file=sys.stderr)
            self.failed_events += len(events)
            return False
        return True

    def _answer(self, question: bytes) -> bytes:
        """The answer to one question frame: relayed to the store's writer agent, or answered
        from the store or server open here."""
        destination = self._destination
        if destination is not None and destination.questions is not None:
            return destination.questions.ask(question)
        from threadline.capture.recorded import answer_question

        recorded = destination.recorded if destination is not None else None
        return orjson.dumps(answer_question(recorded, orjson.loads(question)))

    def close(self, timeout: float = 60.0, *, wait: bool = False) -> None:
        """Stop accepting, write everything received (or, unless ``wait``, leave what the
        store's writer agent has not written within a few milliseconds to it), close the
        store."""
        self._closing = True
        with contextlib.suppress(OSError):
            self._server.close()
        for conn in self._questions:
            # Questions need no draining; only event connections are waited for.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout)
        self._queue.put(None)
        if self._writer is not None and (self._batches or self._ready.is_set()):
            # With nothing to write, a store still opening (an SQLAlchemy import) is not
            # waited for: a command that captured nothing ends as fast as it would alone.
            if not wait and self._hand_off():
                return  # the folder and its journal are the agent's now
            self._writer.join(timeout)
        if self._destination is not None:
            with contextlib.suppress(Exception):
                self._destination.sink.close(_CLOSE_TIMEOUT)  # closes the store opened here too
            if self._destination.questions is not None:
                self._destination.questions.close()
        if self.failed_events:
            print(
                f"threadline: {self.failed_events} lineage event(s) could not be written",
                file=sys.stderr,
            )
        self._journal.close()
        shutil.rmtree(self._folder, ignore_errors=True)


def supervise(child: int, listener: Listener, *, store: str | None, url: str | None) -> int:
    """Serve the capture of the started command (pid ``child``) until it exits; return its
    exit status (128 + N when signal N ended it, as a shell says)."""
    supervisor = Supervisor(store, url=url, listener=listener)
    supervisor.run_ends.command_pid = child
    # The command runs at full priority; writing its lineage is background work that should
    # only use a core the command leaves idle.
    background_priority()
    supervisor.start()
    previous = forward_signals(child)
    code = 0
    try:
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
    finally:
        restore_signals(previous)
        supervisor.end_open_runs(code)
        supervisor.close()
    return 128 - code if code < 0 else code


__all__ = ["Supervisor", "supervise"]
