"""Group commit: concurrent ingest requests share store transactions.

Each request hands its events to :meth:`GroupWriter.append` and waits.  One task per server
process takes every request queued at that moment (up to ``max_events`` events, oldest first)
and appends them with a single ``append_batch`` call in a worker thread: one transaction, one
commit, one trip through the store's fixed per-batch costs, instead of one per request.  Under
load the groups grow by themselves; an idle server commits a lone request at once.

A request is still all or nothing, and one poison request never fails the others of its
group.  When a combined append fails on the data of some request (the store raises
:class:`~threadline.errors.InvalidEvent`: its structural check, or a value the database
refused), the request holding the event the error names is committed alone, so its error
names the index within *its* batch, and the rest of the group is committed again without it.
When the error names no event, or the failure is not one the store attributes (an unexpected
error), every request is retried alone.  Only :class:`~threadline.errors.StoreUnavailable`
(the store is down or full) fails the whole group at once: retrying it request by request
would only repeat the failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import anyio.to_thread

from threadline.errors import InvalidEvent, StoreUnavailable
from threadline.store.base import Appendable, AppendResult, Store

log = logging.getLogger("threadline.server")


@dataclass(slots=True)
class _Request:
    events: Sequence[Appendable]
    future: asyncio.Future[AppendResult]
    durable: bool = False
    #: A large batch given a chunk at a time (:meth:`GroupWriter.append_chunks`): committed
    #: alone, never grouped.
    chunks: Iterable[Sequence[Appendable]] | None = None


@dataclass(slots=True)
class GroupWriter:
    """Appends the events of concurrent requests to ``store`` in shared transactions."""

    store: Store
    max_events: int = 5000
    on_commit: Callable[[AppendResult], None] | None = None
    """Called on the event loop after each commit that appended something."""
    _queue: deque[_Request] = field(default_factory=deque)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _closed: bool = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="threadline-writer")

    async def close(self) -> None:
        """Finish the queued requests, then stop."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def append(self, events: Sequence[Appendable], *, durable: bool = False) -> AppendResult:
        """Append ``events`` atomically (with other requests' events, in one transaction)."""
        return await self._enqueue(_Request(events, self._future(), durable))

    async def append_chunks(
        self, chunks: Iterable[Sequence[Appendable]], *, durable: bool = False
    ) -> AppendResult:
        """Append every chunk's events in one transaction of their own (a batch too large to
        hold parsed whole: see :meth:`SqlStore.append_chunks
        <threadline.store.sql.SqlStore.append_chunks>`)."""
        return await self._enqueue(_Request((), self._future(), durable, chunks))

    def _future(self) -> asyncio.Future[AppendResult]:
        if self._closed:
            raise StoreUnavailable("the server is shutting down; retry against another instance")
        return asyncio.get_running_loop().create_future()

    async def _enqueue(self, request: _Request) -> AppendResult:
        self._queue.append(request)
        self._wake.set()
        return await request.future

    async def _run(self) -> None:
        queue = self._queue
        while True:
            await self._wake.wait()
            self._wake.clear()
            while queue:
                # No local keeps the group once committed: an idle writer would otherwise hold
                # the last request's events (a large batch's whole body) until the next one.
                await self._commit(self._next_group())
            if self._closed and not queue:
                return

    def _next_group(self) -> list[_Request]:
        """The oldest queued request and those after it that fit in one transaction."""
        queue = self._queue
        group = [queue.popleft()]
        size = len(group[0].events) if group[0].chunks is None else self.max_events
        while queue and queue[0].chunks is None and size + len(queue[0].events) <= self.max_events:
            request = queue.popleft()
            group.append(request)
            size += len(request.events)
        return group

    async def _commit(self, group: list[_Request]) -> None:
        events = [event for request in group for event in request.events]
        durable = any(request.durable for request in group)
        chunks = group[0].chunks
        try:
            if chunks is not None:
                result = await anyio.to_thread.run_sync(self._append_chunks, chunks, durable)
            else:
                result = await anyio.to_thread.run_sync(self._append, events, durable)
        except StoreUnavailable as exc:  # the store failed: every request of the group fails
            for request in group:
                _fail(request, exc)
            return
        except Exception as exc:
            if len(group) == 1:
                _fail(group[0], exc)
                return
            poison = _holder(group, exc) if isinstance(exc, InvalidEvent) else None
            if poison is None:
                for request in group:  # find the request(s) that hold the bad data
                    await self._commit([request])
                return
            await self._commit([poison])
            await self._commit([request for request in group if request is not poison])
            return
        for request in group:
            if not request.future.done():
                request.future.set_result(result)
        if result.appended and self.on_commit is not None:
            self.on_commit(result)

    def _append(self, events: list[Appendable], durable: bool) -> AppendResult:
        return self.store.append_batch(events, durable=durable)

    def _append_chunks(self, chunks: Iterable[Sequence[Appendable]], durable: bool) -> AppendResult:
        return self.store.append_chunks(chunks, durable=durable)


def _holder(group: list[_Request], error: InvalidEvent) -> _Request | None:
    """The request holding the event a store error names (``event #N of the batch: …``)."""
    index = event_index(error.message)
    if index is None:
        return None
    for request in group:
        if index < len(request.events):
            return request
        index -= len(request.events)
    return None


def event_index(message: str) -> int | None:
    """The index the store names in ``event #N of the batch: …``, if any."""
    prefix = "event #"
    if message.startswith(prefix):
        number = message[len(prefix) :].split(" ", 1)[0]
        if number.isdigit():
            return int(number)
    return None


def _fail(request: _Request, exc: BaseException) -> None:
    if not request.future.done():
        request.future.set_exception(exc)


__all__ = ["GroupWriter", "event_index"]
