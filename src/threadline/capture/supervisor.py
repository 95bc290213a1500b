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

import _queue  # queue's and socket's C halves: see Listener on the launcher's imports
import _socket
import marshal
import os
import sys
import threading
import time

from threadline.capture.agent_client import hand_off
from threadline.capture.boundary import report
from threadline.capture.framing import (
    ACK_FAILED,
    ACK_OK,
    EVENTS,
    frame_object,
    json_payload,
    recv_frame,
    send_frame,
)
from threadline.capture.handshake import PROCESS_ROLE
from threadline.capture.journal import Journal, journaled_batches, orphaned_folders
from threadline.capture.listener import SOCKET_FOLDER_PREFIX, Listener, remove_socket_folder
from threadline.capture.run_ends import RunEnds
from threadline.capture.signals import background_priority, forward_signals, restore_signals
from threadline.config import Settings, current, resolve, with_overrides
from threadline.errors import CaptureError, InvalidEvent

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from typing import Any, Final

    from threadline.capture.destination import Destination
    from threadline.capture.emitter import Sink


#: How long closing the destination may take (an HTTP sink's last replay of its spool).
_CLOSE_TIMEOUT = 10.0
#: How long a run that ends waits for the agent to write its last batches before it leaves
#: them in its journal for the agent (a warm agent writes a short command's in a few ms).
_HAND_OFF_AFTER = 0.03
#: How long a batch acknowledged on receipt (kept in the journal) waits for the next one before
#: it is written: batches that arrive within it are written as one, one store transaction and
#: one projection instead of one each (a short script sends its run's start as it begins and
#: the rest as it exits).  Nothing waits for the hold to run out: held batches are written at
#: once when a process asks a question, when a process's events connection closes (it exited:
#: the command's next step may read the store), and when the command ends.
_HOLD_SECONDS = 0.5
#: Held batches are written at once when they add up to this many events (memory stays
#: bounded, a message to the agent a group commit's size).
_HOLD_EVENTS = 5_000


class _Ack:
    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


#: The acknowledgement slot of a batch acknowledged on receipt and kept in the journal.
_JOURNALED: Final = _Ack()
#: The keys of a batch message (framing's ``events`` connections and the agent's alike).
_BATCH_KEYS: Final = frozenset({"events", "durable"})


class _Item:
    """One unit of the writer thread's work: a batch of events, or the reports of processes
    that never started capture.  (Not a dataclass: dataclasses imports inspect, ~10 ms of
    every run's supervisor.)"""

    __slots__ = ("ack", "durable", "events", "frame", "lines", "reports")

    def __init__(
        self,
        events: list[dict[str, Any]],
        durable: bool,
        ack: _Ack | None,
        reports: list[dict[str, Any]] | None = None,
        lines: int = 1,
        frame: bytes | None = None,
    ) -> None:
        self.events = events
        #: The batch message as a captured process sent it, when it can be relayed as is.
        self.frame = frame
        self.durable = durable
        self.ack = ack
        self.reports = reports
        #: The journal lines the item stands for, each acknowledged as written once it is.
        self.lines = lines

    @property
    def holdable(self) -> bool:
        """A batch acknowledged on receipt: it may wait to be written with the next ones."""
        return self.ack is _JOURNALED and self.reports is None and not self.durable

    def absorb(self, later: _Item) -> None:
        """Add a later held batch to this one (the message is no longer the frame a process
        sent: it is encoded again, once, when written)."""
        self.events.extend(later.events)
        self.lines += later.lines
        self.frame = None


#: The writer thread's word to write the batches it holds now: they waited long enough (see
#: _HOLD_SECONDS), or the process that sent them exited.
_WRITE_HELD: Final = _Item([], False, None)


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
        self._destination: Destination | None = None
        self._unusable_said = False
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queue: _queue.SimpleQueue[_Item | None] = _queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._acceptor: threading.Thread | None = None
        self._questions: list[_socket.socket] = []
        self._closing = False
        self.failed_events = 0
        self.events = 0
        self._batches = 0  # handed to the writer thread
        #: The state of each run the command reports, to end those it leaves open.
        self.run_ends = RunEnds(command_pid=None)
        #: The reports of processes that did not start capture (yet), by run id.
        self._reports: dict[str, dict[str, Any]] = {}
        self._report_lines: dict[str, int] = {}
        #: The runs of reports whose process said capture took over, kept until capture's
        #: own events of the run arrive: a process killed before they left it has only its
        #: report to say it ran.
        self._taken_over: set[str] = set()
        self._reports_lock = threading.Lock()
        self._command_status: int | None = None
        #: Close returned without the writer thread (the journal went to the agent, or there
        #: was nothing to write): it closes the destination once it stops (``_end_lock``
        #: decides who does).
        self._released = False
        self._writer_done = False
        self._end_lock = threading.Lock()

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
        self._acceptor = threading.Thread(
            target=self._accept, daemon=True, name="threadline-accept"
        )
        self._acceptor.start()
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

    def _release_writer(self) -> None:
        """Close returns without waiting for the writer thread (the journal is the agent's
        now, or there was nothing to write): the writer closes the destination's connections
        once it is done with the item it is writing, or they are closed here if it is done."""
        with self._end_lock:
            self._released = True
            writer_done = self._writer_done
        if writer_done:
            self._close_destination()

    def _close_destination(self) -> None:
        if self._destination is not None:
            try:  # noqa: SIM105 - the supervisor does not load contextlib
                self._destination.sink.close(_CLOSE_TIMEOUT)  # closes the store opened here too
            except Exception:
                pass
            if self._destination.questions is not None:
                self._destination.questions.close()

    def _write_loop(self) -> None:
        self._open()
        self._recover_orphans()
        held: _Item | None = None  # journaled batches waiting to be written as one
        write_by = 0.0  # when the first of them must be written (monotonic seconds)
        while True:
            try:
                wait = None if held is None else max(write_by - time.monotonic(), 0.0)
                item = self._queue.get(timeout=wait)
            except _queue.Empty:
                item = _WRITE_HELD
            if self._released:
                held = None  # the agent writes them from the journal it was handed
                if item is not None and item.ack not in (None, _JOURNALED):
                    item.ack.done.set()  # not written here (ok stays False)
            elif item is not None and item.holdable:
                if held is None:
                    # From the first one: a process sending all the time is held no longer.
                    held, write_by = item, time.monotonic() + _HOLD_SECONDS
                else:
                    held.absorb(item)
                if len(held.events) >= _HOLD_EVENTS:
                    self._write(held)
                    held = None
                continue
            elif held is not None:
                self._write(held)
                held = None
            if item is None:
                with self._end_lock:
                    self._writer_done = True
                    handed_off = self._released
                if handed_off:
                    self._close_destination()
                return
            if not self._released and item is not _WRITE_HELD:
                self._write(item)

    def _write(self, item: _Item) -> None:
        if item.reports is None:
            ok = self._append(item.events, item.durable, item.frame)
        else:
            ok = self._write_reports(item.reports)
        if item.ack is _JOURNALED:
            for _ in range(item.lines):
                self._journal.written()
        elif item.ack is not None:
            item.ack.ok = ok
            item.ack.done.set()

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
                remove_socket_folder(str(folder))
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
                conn = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: _socket.socket) -> None:
        try:
            hello = recv_frame(conn)
            if hello is None:
                return
            # Not orjson, here and for every frame: see framing.json_payload.
            role = frame_object(hello).get("role")
            if role == PROCESS_ROLE:
                self._receive_reports(conn)
                return
            if role != EVENTS:
                self._questions.append(conn)
            while True:
                frame = recv_frame(conn)
                if frame is None:
                    if role == EVENTS:
                        # The process is done (it exited): what it sent is written now, not
                        # when the hold runs out, as the command's next step may read the store.
                        self._queue.put(_WRITE_HELD)
                    return
                if role == EVENTS:
                    self._receive_events(conn, frame_object(frame), frame)
                else:
                    self._ready.wait()
                    send_frame(conn, self._answer(frame))
        except (OSError, ValueError, CaptureError):
            return
        finally:
            conn.close()

    def _receive_events(self, conn: _socket.socket, message: dict[str, Any], frame: bytes) -> None:
        events = message.get("events") or []
        arrived = self.run_ends.note(events)
        self._batches += 1
        # The message is the batch message the store's writer agent takes, unless it says
        # more than a batch (it is then sent again as the batch alone).
        relayed = frame if message.keys() <= _BATCH_KEYS else None
        if message.get("durable"):
            ack = _Ack()
            self._queue.put(_Item(events, True, ack, frame=relayed))
            ack.done.wait()
            self._runs_arrived(arrived)
            conn.sendall(ACK_OK if ack.ok else ACK_FAILED)
        else:
            # Acknowledged before it is written: kept on disk meanwhile, not only in memory.
            self._journal.record(frame)
            self._queue.put(_Item(events, False, _JOURNALED, frame=relayed))
            self._runs_arrived(arrived)  # after the journal's line: a successor reads in order
            conn.sendall(ACK_OK)

    def _runs_arrived(self, run_ids: list[str]) -> None:
        """Drop the reports of the runs capture has now sent the first events of."""
        with self._reports_lock:
            arrived = [run_id for run_id in run_ids if run_id in self._taken_over]
            self._taken_over.difference_update(arrived)
        for run_id in arrived:
            self._keep_report(run_id, {"captured": True})

    # --- process reports (threadline.capture.bootstrap, threadline.capture.script_run) ------

    def _receive_reports(self, conn: _socket.socket) -> None:
        """Keep the report of a process that has not started capture: its start, then its
        end, or the word that capture took over (see _taken_over_by_capture)."""
        run_id: str | None = None
        while True:
            frame = recv_frame(conn)
            if frame is None:
                return
            try:
                message = plain(marshal.loads(frame))
            except (ValueError, EOFError, TypeError):
                return  # not a report: the connection is dropped, nothing is kept
            if not isinstance(message, dict):
                return
            if run_id is None:
                start = message.get("start")
                if not isinstance(start, dict) or not isinstance(start.get("runId"), str):
                    return
                run_id = start["runId"]
                start["environ"] = kept_environment(start.get("environ"), start.get("cwd"))
                self._keep_report(run_id, {"start": start})
            elif isinstance(message.get("end"), dict):
                self._keep_report(run_id, {"end": message["end"]})
            elif "captured" in message:
                self._taken_over_by_capture(run_id)

    def _taken_over_by_capture(self, run_id: str) -> None:
        """The process started capture, which reports its run itself: the report is dropped
        once capture's events of the run have arrived (at once if they came first), and
        written as the run if the process dies before they leave it."""
        with self._reports_lock:
            # Under the lock _runs_arrived takes: the events are either seen by now, or
            # find the run taken over.
            if not self.run_ends.seen(run_id):
                self._taken_over.add(run_id)
                return
        self._keep_report(run_id, {"captured": True})

    def _keep_report(self, run_id: str, part: dict[str, Any]) -> None:
        """Journal a part of a report (so a dead supervisor's successor can write the run)
        and merge it into the report kept here."""
        self._journal.record(json_payload({"report": {"runId": run_id, **part}}))
        with self._reports_lock:
            self._report_lines[run_id] = self._report_lines.get(run_id, 0) + 1
            if part.get("captured"):
                self._reports.pop(run_id, None)
                lines = self._report_lines.pop(run_id)
            else:
                self._reports.setdefault(run_id, {}).update(part)
                return
        for _ in range(lines):  # nothing to write: capture reports the run itself
            self._journal.written()

    def _finish_reports(self) -> _Item | None:
        """Every kept report, with the command's end where it decides the run's end (a
        process that died before its end; the command's own process), as the writer's item."""
        with self._reports_lock:
            # A report capture took over whose events never came is written like the others.
            kept, self._reports = list(self._reports.values()), {}
            self._taken_over.clear()
            lines = sum(self._report_lines.values())
            self._report_lines.clear()
        if not kept:
            return None
        status = self._command_status or 0
        ended = time.time_ns() // 1000
        for one in kept:
            mine = one["start"].get("pid") == self.run_ends.command_pid
            if "end" not in one or (mine and status != 0):
                one["command"] = {"status": status, "ended": ended}
                part = {"runId": one["start"]["runId"], "command": one["command"]}
                self._journal.record(json_payload({"report": part}))
                lines += 1
        return _Item([], False, _JOURNALED, kept, lines)

    def _write_reports(self, reports: list[dict[str, Any]]) -> bool:
        """Write the script runs of ``reports``: built by the store's writer agent, or here."""
        destination = self._destination
        if destination is None:
            self.failed_events += 2 * len(reports)
            return False
        durable = bool(self._settings is not None and self._settings.strict)
        emit_reports = getattr(destination.sink, "emit_reports", None)
        if emit_reports is not None:
            try:
                emit_reports(reports, durable=durable)
            except Exception as exc:
                if not self.failed_events and not self._unusable_said:
                    print(f"threadline: could not write lineage events: {exc}", file=sys.stderr)
                self.failed_events += 2 * len(reports)
                return False
            self.events += 2 * len(reports)
            return True
        from threadline.capture.script_run import events_of_reports

        return self._append(events_of_reports(reports), durable)

    def end_open_runs(self, status: int) -> None:
        """The command ended with ``status`` (as ``Popen.wait`` gives it): end every run it
        left open, and fail its script run if that said COMPLETE but the status is not 0
        (:mod:`threadline.capture.run_ends`)."""
        self._command_status = status
        ends = self.run_ends.ends(status)
        if ends:
            self._batches += 1
            # Journaled like a received batch: the run may be handed to the agent unwritten.
            self._journal.record(json_payload({"events": ends}))
            self._queue.put(_Item(ends, False, _JOURNALED))

    def _hand_off(self, ready_within: float | None = None) -> bool:
        """Leave what is not written yet to the store's writer agent instead of waiting for it
        (a cold agent opening the store, a long backlog): the journal holds every batch not
        acknowledged as written.  Never in ``strict`` mode, whose runs end written.

        ``ready_within``: hand it over at once, whatever the writer is doing, once the
        destination is known (waiting at most that many seconds for it); otherwise only when
        the writer has not finished within a few milliseconds."""
        if self._writer is None:
            return False
        if ready_within is not None:
            self._ready.wait(ready_within)
        else:
            self._writer.join(_HAND_OFF_AFTER)
            if not self._writer.is_alive():
                return False
        destination = self._destination
        if (
            destination is None
            or destination.agent is None
            or (self._settings is not None and self._settings.strict)
        ):
            return False
        if getattr(destination.sink, "replaced", False):
            return False  # the agent went away: this process writes the rest itself
        self._journal.hand_off()
        if not hand_off(destination.agent, self._folder):
            return False  # nobody to take it: written here, then the folder goes
        try:  # noqa: SIM105 - see _close_destination
            os.unlink(self.path)  # the folder stays, with the journal, for the agent
        except OSError:
            pass
        return True

    def _append(
        self, events: list[dict[str, Any]], durable: bool, frame: bytes | None = None
    ) -> bool:
        """Write ``events``: relayed as ``frame`` (their batch message as a process sent it)
        when the destination takes frames (the store's writer agent)."""
        destination = self._destination
        if destination is None:
            self.failed_events += len(events)
            return False
        try:
            emit_frame = getattr(destination.sink, "emit_frame", None)
            if events and frame is not None and emit_frame is not None:
                emit_frame(frame, events, durable=durable)
                self.events += len(events)
            elif events:
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
        # What the command's processes sent before asking is written first: a question is
        # about what earlier runs (and earlier steps of this command) recorded.
        written = _Ack()
        self._queue.put(_Item([], False, written))
        written.done.wait(_CLOSE_TIMEOUT)  # a question never holds the command up for long
        destination = self._destination
        if destination is not None and destination.questions is not None:
            return destination.questions.ask(question)
        from threadline.capture.recorded import answer_question

        recorded = destination.recorded if destination is not None else None
        import orjson  # see _serve

        return orjson.dumps(answer_question(recorded, orjson.loads(question)))

    def close(self, timeout: float = 60.0, *, wait: bool = False) -> None:
        """Stop accepting, write everything received (or, unless ``wait``, leave what the
        store's writer agent has not written within a few milliseconds to it), close the
        store."""
        self._closing = True
        self._listener.shutdown()  # wakes the accept() under way
        if self._acceptor is not None:
            # Every connection it accepted has its thread started before it returns.
            self._acceptor.join(timeout)
        for conn in self._questions:
            # Questions need no draining; only event connections are waited for.
            try:  # noqa: SIM105 - see _close_destination
                conn.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout)
        # Every process has said how it ended (or died): its report is complete.
        reports = self._finish_reports()
        if reports is not None and not wait and self._hand_off(ready_within=timeout):
            # The reports are in the journal the agent took: it builds their runs, off the
            # command's critical path (a short script's run ends without waiting for it).
            self._queue.put(None)
            self._release_writer()
            return
        if reports is not None:
            self._batches += 1
            self._queue.put(reports)
        self._queue.put(None)
        if self._writer is not None and (self._batches or self._ready.is_set()):
            # With nothing to write, a store still opening (an SQLAlchemy import) is not
            # waited for: a command that captured nothing ends as fast as it would alone.
            if not wait and self._hand_off():
                self._release_writer()
                return
            self._writer.join(timeout)
            self._close_destination()
        else:
            self._release_writer()  # still opening the destination: it closes it itself
        if self.failed_events:
            print(
                f"threadline: {self.failed_events} lineage event(s) could not be written",
                file=sys.stderr,
            )
        self._journal.close()
        remove_socket_folder(self._folder)


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


def plain(value: Any, depth: int = 0) -> Any:
    """A report decoded from its frame, as JSON can hold it: only dicts (of text keys), lists,
    text, numbers, booleans and None; text with lone surrogates (bytes of a command line that
    are not UTF-8) escaped."""
    if depth > 32:
        raise ValueError("a report nested too deep")
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode()
        return value
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {plain(str(k), depth + 1): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, depth + 1) for v in value]
    raise TypeError(f"a report holds a {type(value).__name__}")


def kept_environment(environ: Any, cwd: Any) -> dict[str, str]:
    """Of a process's environment, what its script run needs: the ``THREADLINE_*`` variables
    (its settings) and those its ``identity_env`` setting names (its parameters).  Nothing else
    is journaled or handed on: an environment holds secrets."""
    if not isinstance(environ, dict):
        return {}
    kept = {k: v for k, v in environ.items() if k.startswith("THREADLINE_")}
    try:
        names = resolve(environ=kept, cwd=str(cwd or ".")).identity_env
    except Exception:  # bad settings: the run is not built either (script_run says so)
        names = ()
    kept.update({name: environ[name] for name in names if name in environ})
    return kept


__all__ = ["Supervisor", "kept_environment", "plain", "supervise"]
