"""``GET /api/v1/stream``: every appended event as Server-Sent Events, resumable by cursor.

Each event goes out as::

    id: <cursor token>          (the opaque threadline cursor of the record)
    data: <canonical body>      (the stored event, byte for byte: one line of JSON)

A client that reconnects with ``Last-Event-ID`` (browsers' ``EventSource`` do so by themselves),
or passes ``?after=<cursor>``, resumes right after that record; without either the stream starts
at the current head.  Filters: ``namespace`` (the job's or any dataset's namespace) and ``kind``
(``run``, ``job`` or ``dataset``: the OpenLineage event type), each repeatable or
comma-separated.  A comment line is sent every 15 seconds of silence to keep proxies from closing
the connection.

One :class:`ChangeHub` per server process polls the store's log (``read_after``) every
``poll_interval`` seconds while anybody listens, and at once after this process commits, keeps
the newest records in a ring buffer and wakes the subscribers; a subscriber that is behind the
buffer (resuming from an old cursor) reads the store directly until it catches up.  Commits by
other processes (other workers, ``threadline run`` writing to the same store) are seen within
one poll interval.  PostgreSQL ``LISTEN/NOTIFY`` would replace the polling there; not yet.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Final

import anyio.to_thread
import orjson

from threadline.errors import UsageError
from threadline.query.catalog import newest_seq
from threadline.store.base import Cursor, Store, StoredEvent

log = logging.getLogger("threadline.server")

KEEPALIVE_SECONDS: Final = 15.0
EVENT_KINDS: Final = ("run", "job", "dataset")
_PAGE: Final = 1000


@dataclass(frozen=True, slots=True)
class Change:
    """One record of the log, parsed once for filtering."""

    seq: int
    body: bytes
    kind: str
    namespaces: frozenset[str]

    @property
    def token(self) -> str:
        return Cursor(self.seq).encode()

    def frame(self) -> bytes:
        return b"id: " + self.token.encode() + b"\ndata: " + self.body + b"\n\n"


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
    return Change(record.seq, record.body, kind, frozenset(names))


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


class ChangeHub:
    """Polls the log for one server process and fans new records out to subscribers.

    The buffer holds the records the poller read, in log order and without gaps: it covers
    the sequence numbers after ``_base`` up to ``_polled``.
    """

    def __init__(self, store: Store, *, poll_interval: float = 0.15, buffer: int = 10_000) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self._size = buffer
        self._recent: list[Change] = []
        self._seqs: list[int] = []
        self._base = 0
        self._polled: int | None = None
        self._listeners = 0
        self._poke = asyncio.Event()
        self._grew = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._notifier: asyncio.Future[None] | None = None
        self._closed = False

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="threadline-stream")

    async def close(self) -> None:
        self._closed = True
        self._poke.set()
        async with self._grew:
            self._grew.notify_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def end_streams(self) -> None:
        """End every subscription now (callable from any thread, e.g. a signal handler), so
        that a shutting-down server is not held open by its listeners."""
        self._closed = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        self._poke.set()

        async def notify() -> None:
            async with self._grew:
                self._grew.notify_all()

        self._notifier = asyncio.ensure_future(notify())

    def poke(self) -> None:
        """Something was just committed here: poll now rather than at the next tick."""
        self._poke.set()

    # --- polling ------------------------------------------------------------------------------

    async def head(self) -> int:
        """The newest sequence number in the log, read now."""
        return await anyio.to_thread.run_sync(newest_seq, self.store)

    async def _run(self) -> None:
        while not self._closed:
            if self._listeners:
                try:
                    await self._poll()
                except Exception:  # keep streaming through a passing store failure
                    log.exception("change stream: polling the store failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self.poll_interval)
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
        while True:
            records = await anyio.to_thread.run_sync(
                self.store.read_after, Cursor(self._polled), _PAGE
            )
            if not records:
                return
            self._recent.extend(to_change(r) for r in records)
            self._seqs.extend(r.seq for r in records)
            self._polled = records[-1].seq
            if len(self._recent) > 2 * self._size:
                cut = len(self._recent) - self._size
                self._base = self._seqs[cut - 1]
                del self._recent[:cut], self._seqs[:cut]
            async with self._grew:
                self._grew.notify_all()
            if len(records) < _PAGE:
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
        records = await anyio.to_thread.run_sync(self.store.read_after, Cursor(seq), _PAGE)
        return [to_change(r) for r in records]

    async def wait_beyond(self, seq: int, timeout: float) -> bool:
        """Wait until the poller has read past ``seq``; False on timeout."""
        async with self._grew:
            try:
                await asyncio.wait_for(
                    self._grew.wait_for(
                        lambda: self._closed or (self._polled is not None and self._polled > seq)
                    ),
                    timeout,
                )
            except TimeoutError:
                return False
        return not self._closed

    async def subscribe(self, after: int | None, wanted: StreamFilter) -> AsyncIterator[bytes]:
        """The SSE byte stream for one subscriber (see the module docstring)."""
        if self._listeners == 0:
            await self._restart()
        self._listeners += 1
        self._poke.set()
        try:
            cursor = await self.head() if after is None else after
            yield b"retry: 1000\n\n"
            while not self._closed:
                changes = await self.after(cursor)
                if changes:
                    frames = [c.frame() for c in changes if wanted.matches(c)]
                    cursor = changes[-1].seq
                    if frames:
                        yield b"".join(frames)
                    continue
                if not await self.wait_beyond(cursor, KEEPALIVE_SECONDS) and not self._closed:
                    yield b": keep-alive\n\n"
        finally:
            self._listeners -= 1


__all__ = ["EVENT_KINDS", "Change", "ChangeHub", "StreamFilter", "to_change"]
