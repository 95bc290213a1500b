"""Reviewing a large batch on every core.

Before a batch is appended, each of its events is parsed, checked against the schemas and
lineage's rules, put in canonical form and digested
(:func:`~threadline.server.batches.check_batch`): ~30 us an event of the official client's
shape, all of it Python under the server process's one GIL, while appending the result takes
less.  A :class:`ReviewPool` keeps a few processes, each with its own compiled validator, and
cuts a large NDJSON body at line ends into slices, two a process; each process returns what
:func:`~threadline.server.batches.check_ndjson` makes of its slice (how many events, their
notes, the events prepared for the log).  The body goes to the processes, and the prepared
events come back, as files in a spool folder on ``/dev/shm`` (through the pool's pipes a
5,000-event body took 8 ms to a process and 27 ms back).

* A batch of at most a chunk of events (``batch_chunk_events``) is appended slice by slice as
  the verdicts come in, in its one transaction: the server appends the first slices while the
  last are still reviewed, and commits only once every slice has passed (:class:`Review`).
  A larger batch's verdict is awaited whole (:func:`joined`), only its first chunk prepared,
  and the rest read again a chunk at a time as it is appended: the server's memory still
  grows with the chunk, not with the batch.
* The processes start with the first batch large enough to use them (:data:`MIN_BODY`): a
  server that takes single events and small batches never starts them.  That batch, and any
  that come before the processes are up, are reviewed in the server process, as are JSON
  arrays (NDJSON is the form for large batches) and every batch when the pool is off
  (``review_processes`` set to 0, or a single core).
* Whenever a slice holds an event that is refused, the batch holds more events than the
  limit, or a process fails or dies (``kill -9``), the pool gives no verdict (an append
  under way rolls back) and the server process reviews the whole batch itself: the answer,
  a 201 or the 400 naming the first refused event by index and line, is exactly the one it
  would have given alone.  A pool with a dead process is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import mmap
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from array import array
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import anyio.to_thread

from threadline.collector import tune_gc_for_serving
from threadline.errors import ThreadlineError
from threadline.server.batches import CheckedBatch, check_ndjson
from threadline.server.memory import limit_heaps
from threadline.spec.ingest import IngestPolicy
from threadline.spec.validation import EventValidator
from threadline.store.prepared import PreparedEvent

log = logging.getLogger(__name__)

#: Bodies from this size on are reviewed in the pool (~270 events of the official client's
#: shape, ~9 ms of review); below it, sending slices out and the answers back costs more than
#: it saves.
MIN_BODY: Final = 512 * 1024
#: A body is cut into slices of at least this size (so a body just over :data:`MIN_BODY`
#: goes to two processes, not four).
MIN_SLICE: Final = 256 * 1024
#: Seconds an append waits for a slice's verdict before it gives up on the pool (a slice of
#: 5,000 events takes well under one).
SLICE_TIMEOUT: Final = 60.0
#: How often a review process checks that its server is still there.
WATCH_SECONDS: Final = 0.5
#: Free space ``/dev/shm`` needs to hold the spool (a few batches in flight, each its body
#: and its prepared events: up to twice ``max_batch_bytes``).
SPOOL_ROOM: Final = 512 * 1024 * 1024
#: Spool folders are named after this and the server's process id.
SPOOL_PREFIX: Final = "threadline-review-"
#: Processes a pool holds by default: one per core, at most this many.
MOST_PROCESSES: Final = 4


def default_processes(cores: int | None = None) -> int:
    """Review processes for a machine of ``cores`` cores (default: this one's): one per core
    up to :data:`MOST_PROCESSES`; none on a single core, where they would only take turns
    with the server."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return 0 if cores < 2 else min(cores, MOST_PROCESSES)


@dataclass(frozen=True, slots=True)
class Slice:
    """A run of whole lines of an NDJSON body (``body[start:end]``), reviewed by one process."""

    start: int
    end: int
    keep: int
    """How many of its first events come back prepared (see :func:`slices`)."""


def slices(raw: bytes, parts: int, keep: int) -> list[Slice]:
    """``raw`` cut at line ends (``\\n``) into at most ``parts`` slices of about equal size.

    Of the first ``keep`` events of the body, each slice returns prepared those it holds.  How
    many events precede a slice is known only once every slice before it has been reviewed, so
    its ``keep`` counts down from an upper bound of that number (every ``\\n`` and ``\\r`` before
    it ends at most one event): a slice keeps an event only when every earlier slice kept all
    of its own, so what comes back prepared is always a prefix of the batch (possibly shorter
    than ``keep``: the append reads the rest again).
    """
    size = len(raw)
    cuts = [0]
    for part in range(1, parts):
        cut = raw.find(b"\n", max(cuts[-1], size * part // parts))
        if cut < 0:
            break
        cuts.append(cut + 1)
    cuts.append(size)
    out: list[Slice] = []
    before = 0
    # Counting takes ~0.3 ms a MB: skipped for carriage returns when there are none, and
    # for the last slice, after which nothing needs the bound.
    returns = b"\r" in raw
    for start, end in itertools.pairwise(cuts):
        if start >= end:
            continue
        if out:
            previous = out[-1]
            before += raw.count(b"\n", previous.start, previous.end)
            if returns:
                before += raw.count(b"\r", previous.start, previous.end)
        out.append(Slice(start, end, max(0, keep - before)))
    return out


def joined(verdicts: list[Verdict | None], max_events: int) -> CheckedBatch | None:
    """The verdict on a whole batch from those on its slices, in order; None when a slice
    gave none (a refused event) or the batch is empty or over ``max_events``: then only a
    review of the whole batch in order can name the first problem."""
    count = 0
    notes: list[dict[str, Any]] = []
    events: list[PreparedEvent] = []
    whole = True
    if any(verdict is None for verdict in verdicts):
        _discard(verdicts)
        return None
    for verdict in verdicts:
        assert verdict is not None
        notes.extend(_offset(verdict.notes, count))
        if whole:
            kept = unpack(verdict.events)
            events.extend(kept)
            whole = len(kept) == verdict.accepted
        else:
            _remove(verdict.events.blob)
        count += verdict.accepted
    if count == 0 or count > max_events:
        return None
    return CheckedBatch(count, notes, events)


def _offset(notes: list[dict[str, Any]], by: int) -> list[dict[str, Any]]:
    """A slice's notes with their indexes counted from the batch's first event."""
    for note in notes:
        note["index"] += by
    return notes


def _discard(verdicts: list[Verdict | None]) -> None:
    for verdict in verdicts:
        if verdict is not None:
            _remove(verdict.events.blob)


class Packed(NamedTuple):
    """Prepared events as a few flat values.  Their bodies and digests, nearly all of their
    bytes, travel in a file of the pool's spool folder (``blob``: the bodies one after the
    other, then the digests): through the pool's pipes, 10 MB took 8 ms to a process and
    27 ms back; written and read as a file on ``/dev/shm``, a few."""

    blob: str
    sizes: array[int]
    times: array[int]
    columns: list[tuple[Any, ...]]


class Verdict(NamedTuple):
    """What a review process found in its slice."""

    accepted: int
    """How many events the slice holds (all accepted)."""
    notes: list[dict[str, Any]]
    events: Packed


def pack(events: list[PreparedEvent], blob: str) -> Packed:
    """``events`` as a :class:`Packed`, their bodies and digests written to the file ``blob``
    (see :func:`unpack`)."""
    with open(blob, "wb") as out:
        out.writelines(event.body for event in events)
        out.writelines(event.digest for event in events)
    return Packed(
        blob,
        array("Q", [len(event.body) for event in events]),
        array("q", [event.time_us for event in events]),
        [event.columns for event in events],
    )


def unpack(packed: Packed) -> list[PreparedEvent]:
    """The events :func:`pack` was given (its file is removed)."""
    ends = list(itertools.accumulate(packed.sizes))
    if not ends:
        _remove(packed.blob)
        return []
    try:
        with (
            open(packed.blob, "rb") as source,
            mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as data,
        ):
            # Sliced straight from the mapping: one copy of each body, not two.
            at = ends[-1]
            width = (len(data) - at) // len(ends)
            bodies = [data[start:end] for start, end in zip([0, *ends], ends, strict=False)]
            digests = [data[offset : offset + width] for offset in range(at, len(data), width)]
    finally:
        _remove(packed.blob)
    # tuple.__new__ straight from C: the named tuple's own __new__ is a Python call an event.
    return list(
        map(
            tuple.__new__,
            itertools.repeat(PreparedEvent),
            zip(digests, bodies, packed.times, packed.columns, strict=True),
        )
    )


def _cancelling() -> bool:
    """Whether the running task is being cancelled (rather than a slice's future, which a
    pool closed under it cancels)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _discard_result(future: Future[Verdict | None]) -> None:
    if not future.cancelled() and future.exception() is None:
        _discard([future.result()])


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _pids(executor: ProcessPoolExecutor | None) -> list[int]:
    # The executor keeps its processes by id; no public accessor before Python 3.14.
    processes = getattr(executor, "_processes", None) or {}
    return sorted(processes)


def _sweep_stale_spools(root: str) -> None:
    """Remove the spool folders of servers that are gone (killed before they could)."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            if not entry.name.startswith(SPOOL_PREFIX) or not entry.is_dir(follow_symlinks=False):
                continue
            pid = entry.name[len(SPOOL_PREFIX) :].split("-", 1)[0]
            mine = not hasattr(os, "getuid") or entry.stat().st_uid == os.getuid()
            if pid.isdigit() and mine and not _alive(int(pid)):
                shutil.rmtree(entry.path, ignore_errors=True)


def _alive(pid: int) -> bool:
    # Not capture.liveness.is_running: the server and capture stay apart, and a folder left
    # by a pid now reused is only swept later.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _spool_root() -> str:
    """Where the pool's files go: shared memory where there is room (``/dev/shm``, unless it
    is as small as a container's default 64 MiB), else the temporary folder."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        with contextlib.suppress(OSError):
            room = os.statvfs(shm)
            if room.f_bavail * room.f_frsize >= SPOOL_ROOM:
                return shm
    return tempfile.gettempdir()


class Unreviewed(Exception):
    """The pool gave no verdict on a batch (a refused event, the batch over the limit, a
    failed process): the server process reviews it itself.  Raised inside an append, it
    rolls the append back."""


class Review:
    """A batch under review in the pool, in slices.

    Either its whole verdict is awaited (:meth:`verdict`), or, when every event comes back
    prepared (``whole``: the batch holds at most ``keep`` events), the batch is appended a
    slice at a time as the verdicts come in (:meth:`chunks`, consumed inside the append's
    one transaction): the server appends the first slices while the last are reviewed.  A
    slice without a verdict raises :class:`Unreviewed` there, and nothing is committed.
    """

    def __init__(
        self,
        pool: ReviewPool,
        executor: ProcessPoolExecutor,
        body: str,
        futures: list[Future[Verdict | None]],
        *,
        max_events: int,
        whole: bool,
    ) -> None:
        self._pool = pool
        self._executor = executor
        self._futures = futures
        self._max_events = max_events
        self.whole = whole
        self.count = 0
        self.notes: list[dict[str, Any]] = []
        self._taken = 0
        # The body's file goes once every slice has read it (or failed to).
        pending = [len(futures)]
        lock = threading.Lock()

        def finished(_future: Future[Verdict | None]) -> None:
            with lock:
                pending[0] -= 1
                last = pending[0] == 0
            if last:
                _remove(body)

        for future in futures:
            future.add_done_callback(finished)

    async def first(self) -> None:
        """Wait for the first slice's verdict (an append then holds the store's lock only
        from when it has something to write)."""
        try:
            await asyncio.wrap_future(self._futures[0])
        except asyncio.CancelledError:
            if _cancelling():
                raise
        except Exception:
            pass  # the hand-over meets the same failure and reports it

    def chunks(self) -> Iterator[list[PreparedEvent]]:
        """Each slice's events, prepared, in order, as its verdict arrives (blocking: called
        from the append's thread); :class:`Unreviewed` for a slice without one, or once
        the batch is found empty or over the limit."""
        for future in self._futures:
            try:
                # The append holds the store's lock meanwhile: a process that never answers
                # must not hold it forever.
                verdict = future.result(timeout=SLICE_TIMEOUT)
            except Exception as exc:
                self._pool.failed(self._executor, exc)
                raise Unreviewed("a review process failed") from exc
            self._taken += 1
            if verdict is None:
                raise Unreviewed("an event of the batch is refused")
            events = unpack(verdict.events)
            self.notes.extend(_offset(verdict.notes, self.count))
            self.count += verdict.accepted
            if self.count > self._max_events:
                raise Unreviewed("the batch holds more events than the limit")
            if events:
                yield events
        if self.count == 0:
            raise Unreviewed("the batch holds no event")
        self._pool.reviewed_one()

    async def verdict(self) -> CheckedBatch | None:
        """The verdict on the whole batch (see :func:`joined`); None when there is none."""
        try:
            verdicts = list(await asyncio.gather(*(asyncio.wrap_future(f) for f in self._futures)))
        except asyncio.CancelledError:
            self.abandon()
            if _cancelling():
                raise
            return None  # the pool was closed under the batch: the server is stopping
        except Exception as exc:
            self.abandon()
            self._pool.failed(self._executor, exc)
            return None
        self._taken = len(self._futures)
        checked = joined(verdicts, self._max_events)
        if checked is not None:
            self._pool.reviewed_one()
        return checked

    def abandon(self) -> None:
        """Drop what the slices not taken leave behind (their packed events' files)."""
        for future in self._futures[self._taken :]:
            future.add_done_callback(_discard_result)
        self._taken = len(self._futures)


class ReviewPool:
    """Processes reviewing slices of large NDJSON batches (see the module docs).

    Example::

        pool = ReviewPool(2, strict=False)
        checked = await pool.check(body, max_events=100_000, keep=5_000)
        if checked is None:  # starting, a refusal or a failure: review it in this process
            checked = check_batch(policy, body, content_type, max_events=..., keep=...)
        pool.close()
    """

    def __init__(self, processes: int, *, strict: bool) -> None:
        if processes < 1:
            raise ValueError(f"a review pool needs at least one process, not {processes}")
        self.processes = processes
        self.strict = strict
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._ready = False
        self._closed = False
        self._spool = ""
        self.replaced = 0
        self.reviewed = 0
        """How many batches the pool gave a verdict on."""
        """How many times a pool with a dead process was replaced (for tests and logs)."""

    @property
    def ready(self) -> bool:
        """True once every process of the current pool has started."""
        return self._ready

    def start(self) -> None:
        """Start the processes in the background (a no-op when they are started already)."""
        with self._lock:
            if self._executor is not None or self._closed:
                return
            if not self._spool:
                root = _spool_root()
                _sweep_stale_spools(root)
                self._spool = tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", dir=root)
            executor = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_reviewer,
                initargs=(self.strict, os.getpid()),
            )
            self._executor = executor
            self._ready = False
            pending = [executor.submit(os.getpid) for _ in range(self.processes)]
            remaining = [len(pending)]

            def started(future: Future[int]) -> None:
                with self._lock:
                    remaining[0] -= 1
                    if (
                        remaining[0] == 0
                        and self._executor is executor
                        and all(not f.cancelled() and f.exception() is None for f in pending)
                    ):
                        self._ready = True

            for future in pending:
                future.add_done_callback(started)

    async def submit(self, raw: bytes, *, max_events: int, keep: int) -> Review | None:
        """Send the NDJSON body ``raw`` to the pool, a slice to each process (see
        :class:`Review`); None when the pool is not up yet (it starts now) or cannot take it."""
        executor = self._executor
        if executor is None or not self._ready:
            self.start()
            return None
        # The finer the slices, the sooner the server can append the first while the rest
        # are reviewed: two a process, of at least MIN_SLICE each.
        parts = max(1, min(2 * self.processes, len(raw) // MIN_SLICE))
        name = os.path.join(self._spool, uuid.uuid4().hex)
        cut = slices(raw, parts, keep)
        futures: list[Future[Verdict | None]] = []
        try:
            await anyio.to_thread.run_sync(_write, name, raw)
            for number, part in enumerate(cut):
                futures.append(
                    executor.submit(_review_slice, name, part, max_events, f"{name}-{number}")
                )
        except Exception as exc:
            _remove(name)
            for future in futures:  # slices sent before the failure leave files to no one
                future.add_done_callback(_discard_result)
            self.failed(executor, exc)
            return None
        # Every event comes back prepared when even the last slice keeps all it may hold.
        last = cut[-1]
        whole = last.keep > raw.count(b"\n", last.start, last.end) + raw.count(
            b"\r", last.start, last.end
        )
        return Review(self, executor, name, futures, max_events=max_events, whole=whole)

    async def check(self, raw: bytes, *, max_events: int, keep: int) -> CheckedBatch | None:
        """What :func:`~threadline.server.batches.check_batch` makes of the NDJSON body
        ``raw``, its slices reviewed in the pool; None when this process must review it
        itself (the pool is starting, an event is refused, the batch is over ``max_events``,
        or a process failed)."""
        review = await self.submit(raw, max_events=max_events, keep=keep)
        return None if review is None else await review.verdict()

    def failed(self, executor: ProcessPoolExecutor, error: BaseException) -> None:
        """Log how ``executor`` (this pool's, or one it replaced) failed a batch; replace it
        when a process died or stopped answering."""
        if isinstance(error, BrokenProcessPool | TimeoutError):
            log.warning(
                "a review process %s; the batch is reviewed here and the pool replaced",
                "died" if isinstance(error, BrokenProcessPool) else "stopped answering",
            )
            self._replace(executor, stuck=isinstance(error, TimeoutError))
        else:
            log.warning("the review pool failed a batch; it is reviewed here", exc_info=error)

    def pids(self) -> list[int]:
        """The process ids of the current pool's processes (those started so far)."""
        return _pids(self._executor)

    def reviewed_one(self) -> None:
        with self._lock:
            self.reviewed += 1

    def status(self) -> dict[str, Any]:
        """How the pool stands, for ``/health``: its size, whether it is up (it starts with
        the first large batch), its processes, how many times one died and how many batches
        it gave a verdict on."""
        return {
            "processes": self.processes,
            "ready": self._ready,
            "pids": self.pids(),
            "replaced": self.replaced,
            "reviewed": self.reviewed,
        }

    def _replace(self, broken: ProcessPoolExecutor, *, stuck: bool = False) -> None:
        with self._lock:
            if self._executor is not broken:
                return  # another request replaced it already
            self._executor = None
            self._ready = False
            self.replaced += 1
        if stuck:  # a process that stopped answering would never read the shutdown
            for pid in _pids(broken):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        broken.shutdown(wait=False, cancel_futures=True)
        self.start()

    def close(self) -> None:
        """Stop the processes (slices under way are dropped; their requests review here)."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
            self._ready = False
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        if self._spool:
            shutil.rmtree(self._spool, ignore_errors=True)


# --- in each review process ---------------------------------------------------------------------

_policy: IngestPolicy | None = None


def _start_reviewer(strict: bool, server: int) -> None:
    """Compile the validator once for the process's life, and end the process when the
    server ``server`` (a process id) is gone."""
    global _policy
    limit_heaps()
    _policy = IngestPolicy(EventValidator(), strict=strict)
    tune_gc_for_serving()
    threading.Thread(
        target=_end_with, args=(server,), name="threadline-review-watch", daemon=True
    ).start()


def _end_with(server: int) -> None:
    # A server killed outright (kill -9) never shuts its pool down, and each process holds
    # both ends of the pool's queue, so it would never see one closed: it watches instead.
    while os.getppid() == server:
        time.sleep(WATCH_SECONDS)
    os._exit(0)


def _review_slice(body: str, part: Slice, max_events: int, blob: str) -> Verdict | None:
    """:func:`check_ndjson` of the slice ``part`` of the file ``body``, packed into ``blob``;
    None for any refusal (the server names it itself)."""
    assert _policy is not None, "the review process was not started with _start_reviewer"
    with open(body, "rb") as source:
        text = os.pread(source.fileno(), part.end - part.start, part.start)
    # A slice's events are dropped as they are prepared: a collection would only walk them.
    gc.disable()
    try:
        checked = check_ndjson(_policy, text, max_events=max_events, keep=part.keep)
    except ThreadlineError:
        return None
    finally:
        gc.enable()
    return Verdict(checked.count, checked.notes, pack(checked.events, blob))


__all__ = [
    "MIN_BODY",
    "Packed",
    "ReviewPool",
    "Slice",
    "Verdict",
    "default_processes",
    "joined",
    "pack",
    "slices",
    "unpack",
]
