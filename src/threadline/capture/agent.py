"""A store's writer agent: one long-lived process per store and user on this host.

``threadline run``'s supervisor used to open the store itself, which costs every captured
command an SQLAlchemy import and a schema check (a third of a second on a 2-core machine) and
made a short command wait for its last events to be committed.  Instead, the supervisor hands
its batches to this agent, which keeps the store open across commands and exits after
``agent_idle_seconds`` with nothing to do.  The first run starts it (:mod:`.agent_client`
binds its socket and takes its lock first, then passes both on, so a reader never finds the
agent half-started).

Connections say who they are in a first frame (``{"role": …}``), as on the supervisor's
socket (:mod:`threadline.capture.framing`):

* ``events``: batches (``{"events": [...], "durable": bool}``), each acknowledged once written;
  a batch may instead hold the reports of processes that never started capture
  (``{"reports": [...]}``), whose script runs are built here
  (:mod:`threadline.capture.script_run`);
* ``questions``: what earlier runs recorded, answered after everything queued before the
  question is written (:func:`threadline.capture.recorded.answer_question`);
* ``adopt``: ``{"role": "adopt", "folder": F}``, a supervisor that exits before its batches
  were acknowledged leaves them in its journal (:mod:`threadline.capture.journal`) for the
  agent to write;
* ``flush`` (:func:`threadline.store.writer_agent.wait_for_agent`): answered once everything
  handed over before it, and every orphaned journal of this store, is written.

Every batch is written in the order it was queued by one writer thread; a batch written twice
(a journal adopted after some of its batches were acknowledged) is stored once.  The lock is
released only after the agent has stopped listening and written everything it took, so a
reader that finds no socket waits for it instead of reading a store about to change.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from threadline.capture.abandoned import abandoned_run_ends
from threadline.capture.agent_client import ADOPT_ROLE
from threadline.capture.boundary import report
from threadline.capture.emitter import Sink, StoreSink, emit_each
from threadline.capture.framing import (
    ACK_FAILED,
    ACK_OK,
    ACK_REFUSED,
    EVENTS,
    QUESTIONS,
    recv_frame,
    send_frame,
)
from threadline.capture.journal import journaled_batches, orphaned_folders, supervisor_folders
from threadline.capture.listener import SOCKET_FOLDER_PREFIX
from threadline.capture.recorded import Recorded, StoreRecorded, answer_question
from threadline.capture.script_run import events_of_reports
from threadline.capture.signals import background_priority
from threadline.collector import tune_gc_for_serving
from threadline.errors import InvalidEvent
from threadline.store import open_store
from threadline.store.writer_agent import FLUSH_ROLE, agent_paths
from threadline.temp_files import temp_folder

_SQLITE: Final = "sqlite:///"
#: How often the agent looks at the clock (and for a removed store file) while idle.
_TICK: Final = 0.5
#: How long a stopping agent still serves connections it had accepted.
_LAST_WORDS: Final = 5.0
#: While commands keep handing work over, their runs ending share one look for abandoned runs
#: per this many seconds instead of one each (a look reads the temporary folder and the store's
#: open runs, ~3-4 ms of the agent's CPU per command of a pipeline); a quiet tick looks at
#: once, and a reader's flush always does, so what a query sees is as before.
_SWEEP_SPACING: Final = 2.0


@dataclass(slots=True)
class _Task:
    """One unit of the writer thread's work: a batch, a journal to adopt, or a barrier."""

    events: list[dict[str, Any]] | None = None
    #: Reports of processes that never started capture: their script runs are built (in
    #: the order the tasks were queued, like every write) before ``events`` are written.
    reports: list[dict[str, Any]] | None = None
    durable: bool = False
    folder: str | None = None
    #: End abandoned runs (after everything queued before is written) …
    sweep: bool = False
    #: … now, not when the last look is old enough (a reader's flush).
    sweep_now: bool = False
    #: A supervisor's batch: a refused event is said back, for it to write the others
    #: one by one and count what was lost (an adopted journal's are written one by one here).
    answerable: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False
    refused: str | None = None


class Agent:
    """Writes what ``threadline run`` supervisors hand over to one store, until idle."""

    def __init__(
        self, url: str, listener: socket.socket, lock_fd: int, idle_seconds: float
    ) -> None:
        self.url = url
        self._listener = listener
        self._lock_fd = lock_fd
        self._idle = idle_seconds
        self._paths = agent_paths(url)
        self._tasks: queue.Queue[_Task] = queue.Queue()
        self._sink: Sink | None = None
        self._recorded: Recorded | None = None
        self._ready = threading.Event()
        self._guard = threading.Lock()
        self._connections = 0
        self._last_active = time.monotonic()
        self._listening = True
        self._adopting: set[str] = set()
        #: A look for abandoned runs is due (see _end_abandoned_runs) …
        self._sweep_wanted = False
        #: … and when the last one was (monotonic seconds).
        self._last_sweep = -_SWEEP_SPACING
        self._tmp = temp_folder()
        #: The (device, inode) of the SQLite store file opened (None: not a file's store).
        self._opened: tuple[int, int] | None = None

    # --- the process ------------------------------------------------------------------------

    def serve(self) -> int:
        """Run until idle; the exit status of the agent process."""
        background_priority()
        threading.Thread(target=self._accept, daemon=True, name="agent-accept").start()
        try:
            store = open_store(self.url, catch_up=False)
        except Exception as exc:  # every supervisor then writes in-process and says why
            print(f"threadline agent: cannot open {self.url}: {exc}", file=sys.stderr)
            self._stop_listening()
            self._ready.set()
            return 1
        self._sink = StoreSink(store)
        self._recorded = StoreRecorded(store)
        self._opened = self._store_file()
        self._ready.set()

        self._adopt_orphans()
        self._end_abandoned_runs()
        try:
            self._write_until_idle()
        finally:
            self._stop_listening()
            self._finish()
            with contextlib.suppress(Exception):
                self._sink.close(10.0)
            os.close(self._lock_fd)  # the readers waiting for it may read now
        return 0

    def _write_until_idle(self) -> None:
        while True:
            try:
                task = self._tasks.get(timeout=_TICK)
            except queue.Empty:
                if self._sweep_wanted:
                    self._end_abandoned_runs()
                if self._stop_if_idle():
                    return
                continue
            self._run(task)
            if self._sweep_wanted and self._sweep_due():
                self._end_abandoned_runs()
            if self._tasks.empty():
                self._project()

    def _sweep_due(self) -> bool:
        return time.monotonic() - self._last_sweep >= _SWEEP_SPACING

    def _project(self) -> None:
        """Bring the graph up to what was just acknowledged, here and now: the next command
        of a pipeline asks what earlier runs recorded, and a graph left behind would be
        projected on that command's own time instead (the store acknowledges before it
        projects: threadline.store.projector; its thread would only start after appends
        pause for a while, and stays as the fallback when this fails)."""
        if isinstance(self._sink, StoreSink):
            try:
                self._sink.store.settle()
            except Exception as exc:
                report("threadline agent", exc)

    def _stop_if_idle(self) -> bool:
        """Stop listening once nobody is connected and nothing happened for ``idle``
        seconds, or at once when nobody is connected and the store is gone.  A command still
        connected keeps the agent whatever became of the file: its next batch makes the
        store anew at the URL (:meth:`_follow_store`), where the command's later lineage and
        the next command's belong."""
        gone = self._store_gone()
        with self._guard:
            if self._connections:
                return False
            if not (gone or time.monotonic() - self._last_active >= self._idle):
                return False
        self._stop_listening()
        return True

    def _finish(self) -> None:
        """Write what is left: orphaned journals, and what connections accepted just before
        the listener closed still hand over (bounded: a peer that never closes is left)."""
        self._adopt_orphans()
        deadline = time.monotonic() + _LAST_WORDS
        while time.monotonic() < deadline:
            try:
                task = self._tasks.get(timeout=0.05)
            except queue.Empty:
                with self._guard:
                    if self._connections == 0:
                        return
                continue
            self._run(task)

    def _store_gone(self) -> bool:
        # A store file removed (a test's or a project's folder deleted) has nobody to write for.
        return self.url.startswith(_SQLITE) and self._store_file() is None

    def _store_file(self) -> tuple[int, int] | None:
        """The (device, inode) of the SQLite store's file now; None for a server's store, or
        while there is no file."""
        if not self.url.startswith(_SQLITE):
            return None
        try:
            status = os.stat(self.url[len(_SQLITE) :])
        except OSError:
            return None
        return status.st_dev, status.st_ino

    def _follow_store(self) -> None:
        """Open the store again when its file was removed or replaced since it was opened (a
        project's ``.threadline`` folder deleted to start afresh, between two commands of a
        pipeline): what runs hand over next belongs in the store at the URL, not in the
        unlinked file this process still holds, where nobody would ever read it."""
        if self._opened is None or self._store_file() == self._opened:
            return
        try:
            store = open_store(self.url, catch_up=False)
        except Exception as exc:  # the write that follows fails and says so
            report("threadline agent", exc)
            return
        previous = self._sink
        self._sink = StoreSink(store)
        self._recorded = StoreRecorded(store)
        self._opened = self._store_file()
        if previous is not None:
            with contextlib.suppress(Exception):
                previous.close(10.0)

    def _run(self, task: _Task) -> None:
        try:
            self._follow_store()
            if task.reports:
                task.events = events_of_reports(task.reports) + (task.events or [])
            if task.events is not None and task.answerable:
                try:
                    task.ok = self._write(task.events, task.durable, one_by_one=False)
                except InvalidEvent as exc:
                    task.refused = exc.message
            elif task.events is not None:
                task.ok = self._write(task.events, task.durable)
            elif task.folder is not None:
                task.ok = self._write_journal(task.folder)
            elif task.sweep:
                if task.sweep_now or self._sweep_due():
                    self._end_abandoned_runs()
                else:
                    self._sweep_wanted = True  # looked at shortly: see _SWEEP_SPACING
                task.ok = True
            else:
                task.ok = True  # a barrier: everything queued before it is written
        finally:
            task.done.set()

    def _write(
        self, events: list[dict[str, Any]], durable: bool, *, one_by_one: bool = True
    ) -> bool:
        sink = self._sink
        if sink is None:
            return False
        try:
            if events:
                sink.emit_batch(events, durable=durable)
            elif durable:
                sync = getattr(sink, "sync", None)
                if sync is not None:
                    sync()
        except InvalidEvent:
            if not one_by_one:
                raise
            # One event the store refuses must not cost the batch's others their lineage; the
            # refused ones are reported, and writing them again would not help.
            emit_each(sink, events, durable=durable, where="threadline agent")
        except Exception as exc:
            report("threadline agent", exc)
            return False
        return True

    def _write_journal(self, folder: str) -> bool:
        try:
            ok = all(self._write(batch, False) for batch in journaled_batches(folder))
            if ok:
                shutil.rmtree(folder, ignore_errors=True)
            # The journal of a supervisor that died with its command may hold the only record
            # of runs nobody will end: look for them once it is written.
            self._sweep_wanted = True
            return ok
        finally:
            with self._guard:
                self._adopting.discard(folder)

    def _end_abandoned_runs(self) -> None:
        """End this host's runs whose process died with nobody to end them (ABORT), as every
        run's supervisor did when it opened the store itself (writer thread only).

        Only once no supervisor of this store is left, alive or with a journal unwritten:
        a run's process may have exited while its supervisor still holds its end, and ending
        the run here would then be wrong.  Until then the look is kept pending and tried
        again (after each task and every idle tick).
        """
        store = getattr(self._sink, "store", None)
        if store is None:
            return
        self._last_sweep = time.monotonic()
        for folder in orphaned_folders(self._tmp, SOCKET_FOLDER_PREFIX, destination=self.url):
            self._write_journal(str(folder))
        if supervisor_folders(self._tmp, SOCKET_FOLDER_PREFIX, destination=self.url):
            self._sweep_wanted = True
            return
        self._sweep_wanted = False
        try:
            ends = abandoned_run_ends(store)
        except Exception as exc:  # a clean-up, never a reason to stop writing
            report("threadline agent", exc)
            return
        if ends:
            self._write(ends, False)

    # --- hand-overs -------------------------------------------------------------------------

    def _adopt(self, folder: str) -> _Task | None:
        with self._guard:
            if folder in self._adopting:
                return None
            self._adopting.add(folder)
        task = _Task(folder=folder)
        self._tasks.put(task)
        return task

    def _adopt_orphans(self) -> None:
        for folder in orphaned_folders(self._tmp, SOCKET_FOLDER_PREFIX, destination=self.url):
            self._adopt(str(folder))

    def _barrier(self) -> None:
        task = _Task()
        self._tasks.put(task)
        task.done.wait()

    # --- the socket -------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._guard:
                self._connections += 1
                self._last_active = time.monotonic()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _stop_listening(self) -> None:
        with self._guard:
            if not self._listening:
                return
            self._listening = False
        with contextlib.suppress(OSError):
            os.unlink(self._paths.socket)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                hello = recv_frame(conn)
                if hello is None:
                    return
                message = orjson.loads(hello)
                role = message.get("role") if isinstance(message, dict) else None
                if role == ADOPT_ROLE:
                    # Queued at once, before the store is open: journals are written in the
                    # order they were handed over (a cold agent wakes every waiting thread
                    # at once, in no order).
                    folder = message.get("folder")
                    if isinstance(folder, str) and self._is_journal_folder(folder):
                        self._adopt(folder)
                    conn.sendall(ACK_OK)
                    return
                self._ready.wait()
                if role == EVENTS:
                    self._serve_events(conn)
                elif role == QUESTIONS:
                    self._serve_questions(conn)
                elif role == FLUSH_ROLE:
                    self._adopt_orphans()
                    self._tasks.put(_Task(sweep=True, sweep_now=True))
                    self._barrier()
                    conn.sendall(ACK_OK)
        except (OSError, ValueError):
            return
        finally:
            with self._guard:
                self._connections -= 1
                self._last_active = time.monotonic()

    def _is_journal_folder(self, folder: str) -> bool:
        """Only a supervisor's folder of this user in this temporary folder is adopted."""
        path = Path(folder)
        try:
            return (
                path.parent == Path(self._tmp)
                and path.name.startswith(SOCKET_FOLDER_PREFIX)
                and path.stat().st_uid == os.getuid()
            )
        except OSError:
            return False

    def _serve_events(self, conn: socket.socket) -> None:
        try:
            self._take_batches(conn)
        finally:
            self._tasks.put(_Task(sweep=True))  # a run ended, or its supervisor died

    def _take_batches(self, conn: socket.socket) -> None:
        while True:
            frame = recv_frame(conn)
            if frame is None:
                return
            try:
                message = orjson.loads(frame)
                if not isinstance(message, dict):
                    raise ValueError("a batch message must be a JSON object")
            except ValueError as exc:
                # Refused, not a dropped connection: a sender reads a dropped connection as
                # the agent gone, and would open the store itself.
                conn.sendall(ACK_REFUSED)
                send_frame(conn, f"not a batch message: {exc}".encode())
                continue
            reports = message.get("reports")
            task = _Task(
                events=list(message.get("events") or []),
                durable=bool(message.get("durable")),
                answerable=True,
                reports=reports if isinstance(reports, list) else None,
            )
            if self._sink is None:
                conn.sendall(ACK_FAILED)
                continue
            self._tasks.put(task)
            task.done.wait()
            if task.refused is not None:
                conn.sendall(ACK_REFUSED)
                send_frame(conn, task.refused.encode())
            else:
                conn.sendall(ACK_OK if task.ok else ACK_FAILED)

    def _serve_questions(self, conn: socket.socket) -> None:
        while True:
            frame = recv_frame(conn)
            if frame is None:
                return
            # What the asking command handed over before its question counts as recorded.
            self._barrier()
            answer = answer_question(self._recorded, orjson.loads(frame))
            send_frame(conn, orjson.dumps(answer))


def main(argv: list[str] | None = None) -> int:
    """``python -m threadline.capture.agent URL SOCKET_FD LOCK_FD IDLE_SECONDS``: started by
    :func:`threadline.capture.agent_client.connect_agent` only, with both descriptors open."""
    args = sys.argv[1:] if argv is None else argv
    url, socket_fd, lock_fd, idle = args[0], int(args[1]), int(args[2]), float(args[3])
    listener = socket.socket(fileno=socket_fd)
    # The agent only serves: what its imports built is frozen out of every collection
    # (bench_ingest's loop in a process tuned so projected 12,600-13,800 events/s, untuned
    # 11,600).  A start leaves no garbage worth a 12 ms walk first.
    tune_gc_for_serving(collect_first=False)
    return Agent(url, listener, lock_fd, idle).serve()


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The writer and connection threads are done or have nothing left to give.
    os._exit(code)
