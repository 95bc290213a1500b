"""The change stream published to NATS JetStream (``threadline serve --publish nats://…``).

Each record of the log becomes one message on the ``publish_subject`` setting's subject: the
stored body as payload, the log's sequence number as JetStream message id (``Nats-Msg-Id``)
and in the ``Threadline-Seq`` header, the record's cursor in ``Threadline-Cursor``.  The
stream (``THREADLINE_EVENTS`` for ``threadline.events``) is created when no stream holds the
subject yet.

Exactly once, in log order, whatever restarts: before each page the publisher asks JetStream
for the newest message on the subject and publishes only the records after its sequence
number, awaiting every acknowledgement before the next page; servers sharing one store all
publish, and JetStream's duplicate window drops the copies that race.  On its first start the
publisher sends the whole log, so a durable consumer can rebuild from the broker alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any, Final

import orjson

from threadline.errors import MissingDependency
from threadline.server.stream import Change, ChangeHub

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

log = logging.getLogger("threadline.server")

SEQ_HEADER: Final = "Threadline-Seq"
CURSOR_HEADER: Final = "Threadline-Cursor"
#: Wait after a failed publish or connection before trying again.
RETRY_SECONDS: Final = 1.0
#: How long the first connection to NATS may take before it counts as failed.
CONNECT_SECONDS: Final = 5.0
#: Publishes in flight at once (JetStream keeps one connection's messages in order).
WINDOW: Final = 128


def require_client() -> None:
    """Raise :class:`~threadline.errors.MissingDependency` (naming the ``nats`` extra) when
    the NATS client is not installed."""
    try:
        import nats  # noqa: F401
    except ModuleNotFoundError as exc:
        raise MissingDependency(
            "publishing to NATS needs nats-py: pip install 'threadline[nats]'"
        ) from exc


def stream_name(subject: str) -> str:
    """The JetStream stream created for ``subject`` (``threadline.events`` ->
    ``THREADLINE_EVENTS``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", subject).upper()


class JetStreamPublisher:
    """Follows ``hub`` and publishes every record to ``subject`` on the NATS server at ``url``."""

    def __init__(self, hub: ChangeHub, url: str, subject: str) -> None:
        self.hub = hub
        self.url = url
        self.subject = subject
        self.stream = stream_name(subject)
        self._nc: Client | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start publishing in the background.  A NATS server that cannot be reached (at
        start or later) is waited for, one warning per outage: the log keeps every event, and
        publishing resumes after what the stream holds."""
        require_client()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="threadline-nats")

    async def _connect(self) -> JetStreamContext:
        import nats
        from nats.js.errors import NotFoundError

        # Bounded: with endless reconnects nats-py would retry a first connection forever.
        self._nc = await asyncio.wait_for(
            nats.connect(
                self.url,
                connect_timeout=2,
                max_reconnect_attempts=-1,
                error_cb=self._on_error,
            ),
            CONNECT_SECONDS,
        )
        js = self._nc.jetstream()
        try:
            self.stream = await js.find_stream_name_by_subject(self.subject)
        except NotFoundError:
            await js.add_stream(name=self.stream, subjects=[self.subject])
        log.info("threadline server: publishing to %s %s", self.url, self.subject)
        return js

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()

    async def _on_error(self, exc: Exception) -> None:
        log.warning("NATS %s: %s", self.url, exc)

    async def _published(self, js: JetStreamContext) -> int:
        """The newest sequence number on the subject (0 when it has none)."""
        from nats.js.errors import NotFoundError

        try:
            last = await js.get_last_msg(self.stream, self.subject)
        except NotFoundError:
            return 0
        return int((last.headers or {}).get(SEQ_HEADER, 0))

    async def _run(self) -> None:
        js: JetStreamContext | None = None
        failing = False
        while not self.hub.closed:
            try:
                if js is None:
                    js = await self._connect()
                cursor = await self._published(js)
                failing = False
                async for changes in self.hub.follow(cursor):
                    if not changes:
                        continue
                    done = await self._published(js)
                    await self._publish(js, [c for c in changes if c.seq > done])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS down or slow: resume from what it holds
                if not failing:
                    log.warning("cannot publish to %s (retrying): %r", self.url, exc)
                failing = True
                if self._nc is None or self._nc.is_closed:
                    js, self._nc = None, None
                await asyncio.sleep(RETRY_SECONDS)

    async def _publish(self, js: JetStreamContext, changes: list[Change]) -> None:
        limit = self._nc.max_payload if self._nc is not None else 1024 * 1024
        for start in range(0, len(changes), WINDOW):
            sends = [
                js.publish(self.subject, _payload(change, limit), headers=_headers(change))
                for change in changes[start : start + WINDOW]
            ]
            await asyncio.gather(*sends)


def _headers(change: Change) -> dict[str, str]:
    return {
        "Nats-Msg-Id": str(change.seq),
        SEQ_HEADER: str(change.seq),
        CURSOR_HEADER: change.token,
    }


def _payload(change: Change, limit: int) -> bytes:
    """The stored body, or a pointer to the record when the body is larger than the NATS
    server takes in one message (read it with ``GET /api/v1/events?after=``)."""
    if len(change.body) <= limit - 1024:
        return change.body
    pointer: dict[str, Any] = {
        "threadline": {"seq": change.seq, "cursor": change.token, "omitted": len(change.body)}
    }
    return orjson.dumps(pointer)


__all__ = ["JetStreamPublisher", "require_client", "stream_name"]
