"""``GET /api/v1/stream``: every appended event as Server-Sent Events, resumable by cursor.

Each event goes out as::

    id: <cursor token>          (the opaque threadline cursor of the record)
    data: <canonical body>      (the stored event, byte for byte: one line of JSON)

A client that reconnects with ``Last-Event-ID`` (browsers' ``EventSource`` do so by themselves),
or passes ``?after=<cursor>``, resumes right after that record; without either the stream starts
at the current head.  Cursors are positions in the shared log, so a client may resume on any
server of the same store.  Filters: ``namespace`` (the job's or any dataset's namespace) and
``kind`` (``run``, ``job`` or ``dataset``: the OpenLineage event type), each repeatable or
comma-separated.  A comment line is sent every 15 seconds of silence to keep proxies from
closing the connection.

One :class:`ChangeHub` per server process follows the store's log (``read_after``) while anybody
listens, keeps the newest records in a ring buffer and wakes the subscribers.  It reads at once
after this process commits, when PostgreSQL notifies a commit by another process or server
(:mod:`.notify`), and otherwise every ``poll_interval`` seconds (SQLite, or a slow safety poll
while PostgreSQL notifications flow).  A subscriber behind the buffer (resuming from an old
cursor) replays from the store a page at a time; subscribers replaying the same stretch share
each page read (:class:`_PageCache`).

Every store read of the stream runs on its own small set of threads (a capacity limiter apart
from anyio's default one that ingest uses), so hundreds of replaying streams wait for each
other, not ingest.  :class:`StreamGate` caps open streams in total and per client address.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import anyio.to_thread
import orjson

from threadline.errors import UsageError
from threadline.query.catalog import newest_seq
from threadline.store.base import Cursor, Store, StoredEvent

log = logging.getLogger("threadline.server")

KEEPALIVE_SECONDS: Final = 15.0
EVENT_KINDS: Final = ("run", "job", "dataset")
_PAGE: Final = 1000
#: Poll interval while store notifications arrive: only a safety net then.
NOTIFIED_POLL_SECONDS: Final = 5.0
#: Streams sending a page of more than ``LIVE_PAGE`` changes at once (catching up): the others
#: wait their turn, so the event loop stays free for ingest whatever the number replaying.
REPLAY_SLOTS: Final = 2
LIVE_PAGE: Final = 50
#: Bytes of replayed pages kept for other subscribers replaying the same stretch.
PAGE_CACHE_BYTES: Final = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Change:
    """One record of the log, parsed once for filtering, its SSE frame built once."""

    seq: int
    body: bytes
    kind: str
    namespaces: frozenset[str]
    frame: bytes

    @property
    def token(self) -> str:
        return Cursor(self.seq).encode()


def to_change(record: StoredEvent) -> Change:
    try:
        body = orjson.loads(record.body)
    except orjson.JSONDecodeError:
        body = {}
    kind = "run" if "run" in body else "dataset" if "dataset" in body else "job"
    names: set[str] = set()
    job = body.get("job")
    if isinstance(job, dict) and isinstance(job.get("namespace"), str):
        names.add(job["namespace"])
    datasets: list[Any] = [body.get("dataset"), *body.get("inputs", []), *body.get("outputs", [])]
    for dataset in datasets:
        if isinstance(dataset, dict) and isinstance(dataset.get("namespace"), str):
            names.add(dataset["namespace"])
    frame = b"id: " + Cursor(record.seq).encode().encode() + b"\ndata: " + record.body + b"\n\n"
    return Change(record.seq, record.body, kind, frozenset(names), frame)


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Which changes a subscriber wants (empty sets keep everything)."""

    namespaces: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, namespaces: Iterable[str], kinds: Iterable[str]) -> StreamFilter:
        wanted_kinds = frozenset(k.strip() for raw in kinds for k in raw.split(",") if k.strip())
        unknown = wanted_kinds - set(EVENT_KINDS)
        if unknown:
            raise UsageError(
                f"kind {sorted(unknown)[0]!r} is not an event kind; use {', '.join(EVENT_KINDS)}"
            )
        wanted_ns = frozenset(n.strip() for raw in namespaces for n in raw.split(",") if n.strip())
        return cls(wanted_ns, wanted_kinds)

    def matches(self, change: Change) -> bool:
        if self.kinds and change.kind not in self.kinds:
            return False
        return not self.namespaces or not self.namespaces.isdisjoint(change.namespaces)


@dataclass(slots=True)
class StreamGate:
    """Admits change streams up to ``total`` open at once, ``per_client`` from one address.

    Everything runs on the event loop, so a check and the count it admits cannot interleave.
    """

    total: int
    per_client: int
    #: What a refused client is told to wait (``Retry-After``), in seconds.
    retry_after: int = 5
    _open: dict[str, int] = field(default_factory=dict)
    _count: int = 0

    @property
    def open(self) -> int:
        return self._count

    def admit(self, client: str) -> str | None:
        """Count a new stream from ``client``; the reason it is refused, or None."""
        if self._count >= self.total:
            return f"the server has {self._count} change streams open, its limit"
        mine = self._open.get(client, 0)
        if mine >= self.per_client:
            return f"client {client} has {mine} change streams open, the limit per client"
        self._open[client] = mine + 1
        self._count += 1
        return None

    def release(self, client: str) -> None:
        left = self._open.get(client, 0) - 1
        if left > 0:
            self._open[client] = left
        else:
            self._open.pop(client, None)
        self._count -= 1


class IngestFirst:
    """Requests that write (ingest) go before catching-up streams and scheduled health checks.

    The app counts its writing requests in flight; a stream about to send a page of
    replayed changes first waits until none is (for ``max_wait`` seconds at most, so steady
    ingest slows replay down but never stops it).  Replay then only uses the event loop while
    ingest does not need it, however many streams replay.  A scheduled health check waits
    for a pause in ingest (:meth:`wait_quiet`).
    """

    def __init__(self, max_wait: float = 0.1) -> None:
        self.max_wait = max_wait
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        #: When the last writing request ended (monotonic seconds; none yet: minus infinity).
        self._ended_at = float("-inf")

    def begin(self) -> None:
        self._active += 1
        self._idle.clear()

    def end(self) -> None:
        self._active -= 1
        self._ended_at = time.monotonic()
        if self._active <= 0:
            self._active = 0
            self._idle.set()

    async def wait_idle(self) -> None:
        if not self._idle.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.max_wait)

    async def wait_quiet(self, quiet: float, at_most: float) -> bool:
        """Wait until no writing request has been in flight for ``quiet`` seconds, or for
        ``at_most`` seconds (steady ingest postpones, never stops, what waits); True if
        ingest paused."""
        deadline = time.monotonic() + at_most
        while True:
            now = time.monotonic()
            if self._active == 0 and now - self._ended_at >= quiet:
                return True
            if now >= deadline:
                return False
            if self._active == 0:
                await asyncio.sleep(min(quiet - (now - self._ended_at), deadline - now))
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), deadline - now)


class _PageCache:
    """Replayed pages by the cursor they start after, least recently used out first, bounded
    by bytes; a page being read is read once for every subscriber asking for it."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[int, list[Change]] = OrderedDict()
        self._bytes = 0
        self._loading: dict[int, asyncio.Future[list[Change]]] = {}

    async def get(self, after: int, load: Callable[[], Awaitable[list[Change]]]) -> list[Change]:
        page = self._pages.get(after)
        if page is not None:
            self._pages.move_to_end(after)
            return page
        pending = self._loading.get(after)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[list[Change]] = asyncio.get_running_loop().create_future()
        self._loading[after] = future
        try:
            page = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        else:
            future.set_result(page)
            self._keep(after, page)
            return page
        finally:
            del self._loading[after]

    def _keep(self, after: int, page: list[Change]) -> None:
        size = sum(len(change.frame) for change in page)
        if not page or size > self.max_bytes:
            return
        self._pages[after] = page
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, dropped = self._pages.popitem(last=False)
            self._bytes -= sum(len(change.frame) for change in dropped)


class ChangeHub:
    """Follows the log for one server process and fans new records out to subscribers.

    The buffer holds the records the poller read, in log order and without gaps: it covers
    the sequence numbers after ``_base`` up to ``_polled``.
    """

    def __init__(
        self,
        store: Store,
        *,
        poll_interval: float = 0.15,
        buffer: int = 10_000,
        read_threads: int = 2,
    ) -> None:
        self.store = store
        self.poll_interval = poll_interval
        #: Set while store notifications arrive (:mod:`.notify`): polling is a safety net then.
        self.notified = False
        self._size = buffer
        self._recent: list[Change] = []
        self._seqs: list[int] = []
        self._base = 0
        self._polled: int | None = None
        self._listeners = 0
        self._poke = asyncio.Event()
        # Replaced by a fresh event each time the buffer grows: waiters hold the one they saw.
        self._grown = asyncio.Event()
        self._reads = anyio.CapacityLimiter(read_threads)
        self._pages = _PageCache(PAGE_CACHE_BYTES)
        self._replay_slots = asyncio.Semaphore(REPLAY_SLOTS)
        #: Counted by the app around each writing request (see :class:`IngestFirst`).
        self.ingest = IngestFirst()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="threadline-stream")

    async def close(self) -> None:
        self._closed = True
        self._wake_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def closed(self) -> bool:
        return self._closed

    def end_streams(self) -> None:
        """End every subscription now (callable from any thread, e.g. a signal handler), so
        that a shutting-down server is not held open by its listeners."""
        self._closed = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        self._poke.set()
        self._grown.set()

    def poke(self) -> None:
        """Something was just committed here: read now rather than at the next tick."""
        self._poke.set()

    def appended(self, seq: int | None) -> None:
        """The store says the log grew to ``seq`` (None: it may have; read to find out)."""
        if seq is None or self._polled is None or seq > self._polled:
            self._poke.set()

    # --- following the log -------------------------------------------------------------------

    async def _read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a store read on the stream's own threads."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._reads)

    async def head(self) -> int:
        """The newest sequence number in the log, read now."""
        head: int = await self._read(newest_seq, self.store)
        return head

    def _changes_after(self, seq: int) -> list[Change]:
        return [to_change(r) for r in self.store.read_after(Cursor(seq), _PAGE)]

    async def _read_changes(self, seq: int) -> list[Change]:
        changes: list[Change] = await self._read(self._changes_after, seq)
        return changes

    async def _run(self) -> None:
        while not self._closed:
            if self._listeners:
                try:
                    await self._poll()
                except Exception:  # keep streaming through a passing store failure
                    log.exception("change stream: reading the store failed")
            interval = NOTIFIED_POLL_SECONDS if self.notified else self.poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), interval)
            self._poke.clear()

    async def _restart(self) -> None:
        """Nobody listened, so nobody polled: start the buffer at the log's current head."""
        head = await self.head()
        self._recent, self._seqs = [], []
        self._base = self._polled = head

    async def _poll(self) -> None:
        if self._polled is None:
            await self._restart()
        assert self._polled is not None
        while not self._closed:
            changes = await self._read_changes(self._polled)
            if not changes:
                return
            self._recent.extend(changes)
            self._seqs.extend(c.seq for c in changes)
            self._polled = changes[-1].seq
            if len(self._recent) > 2 * self._size:
                cut = len(self._recent) - self._size
                self._base = self._seqs[cut - 1]
                del self._recent[:cut], self._seqs[:cut]
            grown, self._grown = self._grown, asyncio.Event()
            grown.set()
            if len(changes) < _PAGE:
                return

    # --- subscribing --------------------------------------------------------------------------

    async def after(self, seq: int) -> list[Change]:
        """Records after ``seq`` (a page at most): from the buffer when it covers ``seq``,
        else from the store."""
        polled = self._polled
        if polled is not None and self._base <= seq:
            if seq >= polled:
                return []
            start = bisect.bisect_right(self._seqs, seq)
            return self._recent[start : start + _PAGE]
        return await self._pages.get(seq, lambda: self._read_changes(seq))

    async def wait_beyond(self, seq: int, timeout: float) -> bool:
        """Wait until the log is read past ``seq`` (or the buffer grows, or streams end);
        False on timeout or when streams end."""
        if self._closed:
            return False
        polled = self._polled
        if polled is not None and polled > seq:
            return True
        grown = self._grown
        try:
            await asyncio.wait_for(grown.wait(), timeout)
        except TimeoutError:
            return False
        return not self._closed

    async def follow(self, after: int | None) -> AsyncGenerator[list[Change]]:
        """Pages of changes after ``after`` (default: the head now), in log order, for as
        long as streams run; an empty page after each ``KEEPALIVE_SECONDS`` of silence."""
        if self._listeners == 0:
            await self._restart()
        self._listeners += 1
        self._poke.set()
        try:
            cursor = await self.head() if after is None else after
            while not self._closed:
                changes = await self.after(cursor)
                if changes:
                    cursor = changes[-1].seq
                    yield changes
                    continue
                if not await self.wait_beyond(cursor, KEEPALIVE_SECONDS) and not self._closed:
                    yield []
        finally:
            self._listeners -= 1

    async def subscribe(self, after: int | None, wanted: StreamFilter) -> AsyncIterator[bytes]:
        """The SSE byte stream for one subscriber (see the module docstring)."""
        yield b"retry: 1000\n\n"
        pages = self.follow(after)
        try:
            async for changes in pages:
                if not changes:
                    yield b": keep-alive\n\n"
                    continue
                replaying = len(changes) > LIVE_PAGE
                if replaying:
                    await self._replay_slots.acquire()
                try:
                    if replaying:
                        # Catching up is loop time a waiting request would lose; a few new
                        # changes go out at once, or delivery would lag behind busy ingest.
                        await self.ingest.wait_idle()
                    frames = b"".join(c.frame for c in changes if wanted.matches(c))
                    if frames:
                        yield frames
                    if replaying:
                        # The server sends a chunk only once the one before has drained to the
                        # socket: an empty one keeps the slot until then, so replay never
                        # piles megabytes up in buffers the event loop must copy out later.
                        yield b""
                finally:
                    if replaying:
                        self._replay_slots.release()
        finally:
            await pages.aclose()


__all__ = [
    "EVENT_KINDS",
    "Change",
    "ChangeHub",
    "IngestFirst",
    "StreamFilter",
    "StreamGate",
    "to_change",
]
