"""Group commit: concurrent ingest requests share store transactions.

Each request hands its events to :meth:`GroupWriter.append` and waits.  One task per server
process takes every request queued at that moment (up to ``max_events`` events, oldest first)
and appends them with a single ``append_batch`` call in a worker thread: one transaction, one
commit, one trip through the store's fixed per-batch costs, instead of one per request.  Under
load the groups grow by themselves; an idle server commits a lone request at once.

A request is still all or nothing.  When a combined append fails on one request's event
(:class:`~threadline.errors.InvalidEvent` from the store's own structural check), the group is
retried request by request, so only the offending request fails and its error names the index
within *its* batch.  Any other failure (the store is down) fails every request of the group.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from threadline.errors import InvalidEvent, StoreUnavailable
from threadline.store.base import AppendResult, Store

log = logging.getLogger("threadline.server")


@dataclass(slots=True)
class _Request:
    events: Sequence[dict[str, Any]]
    future: asyncio.Future[AppendResult]
    durable: bool = False


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

    async def append(
        self, events: Sequence[dict[str, Any]], *, durable: bool = False
    ) -> AppendResult:
        """Append ``events`` atomically (with other requests' events, in one transaction)."""
        if self._closed:
            raise StoreUnavailable("the server is shutting down; retry against another instance")
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Request(events, future, durable))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        queue = self._queue
        while True:
            await self._wake.wait()
            self._wake.clear()
            while queue:
                group = [queue.popleft()]
                size = len(group[0].events)
                while queue and size + len(queue[0].events) <= self.max_events:
                    request = queue.popleft()
                    group.append(request)
                    size += len(request.events)
                await self._commit(group)
            if self._closed and not queue:
                return

    async def _commit(self, group: list[_Request]) -> None:
        events = [event for request in group for event in request.events]
        durable = any(request.durable for request in group)
        try:
            result = await anyio.to_thread.run_sync(self._append, events, durable)
        except InvalidEvent as exc:
            if len(group) == 1:
                _fail(group[0], exc)
                return
            for request in group:  # find the request that holds the bad event
                await self._commit([request])
            return
        except Exception as exc:  # the store failed: every request of the group fails
            for request in group:
                _fail(request, exc)
            return
        for request in group:
            if not request.future.done():
                request.future.set_result(result)
        if result.appended and self.on_commit is not None:
            self.on_commit(result)

    def _append(self, events: list[dict[str, Any]], durable: bool) -> AppendResult:
        return self.store.append_batch(events, durable=durable)


def _fail(request: _Request, exc: BaseException) -> None:
    if not request.future.done():
        request.future.set_exception(exc)


__all__ = ["GroupWriter"]
