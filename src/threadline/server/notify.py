"""Commits by any process, pushed to the change stream: PostgreSQL ``LISTEN``.

Every append on PostgreSQL sends ``NOTIFY`` on :data:`~threadline.store.postgres.APPEND_CHANNEL`
from its own transaction (delivered when it commits, in commit order), with only the log's new
head sequence number as payload.  :class:`AppendListener` holds one connection per server
process listening on that channel and hands each number to the hub, which reads the rows
itself: a notification is a pointer, never the event.  While the connection is down the hub
polls at its normal interval; after each (re)connection it reads once, since notifications sent
meanwhile are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from threadline.server.stream import ChangeHub
from threadline.store.postgres import APPEND_CHANNEL, PostgresStore

log = logging.getLogger("threadline.server")

#: Wait between attempts to (re)connect the listening connection.
RECONNECT_SECONDS: Final = 1.0


class AppendListener:
    """Listens for appends to a PostgreSQL store and pokes ``hub`` for each."""

    def __init__(self, store: PostgresStore, hub: ChangeHub) -> None:
        self.conninfo = store.libpq_url
        self.hub = hub
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="threadline-listen")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.hub.notified = False

    async def _run(self) -> None:
        import psycopg  # the store already needed it: it is a PostgreSQL store

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {APPEND_CHANNEL}")
                    self.hub.notified = True
                    self.hub.appended(None)
                    async for notification in conn.notifies():
                        self.hub.appended(_seq(notification.payload))
            except psycopg.Error as exc:
                if self.hub.notified:
                    log.warning("change stream: PostgreSQL notifications stopped: %s", exc)
            self.hub.notified = False
            await asyncio.sleep(RECONNECT_SECONDS)


def _seq(payload: str) -> int | None:
    try:
        return int(payload)
    except ValueError:
        return None  # not ours to interpret: read the log to find out


__all__ = ["AppendListener"]
