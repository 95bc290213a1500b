"""The stored events in event-time order, in a time window (:func:`events_by_time`).

The log is read in append order elsewhere (``Store.read_after``); this is the other view, the
one Marquez's ``GET /api/v1/events/lineage`` gives: events whose ``eventTime`` lies in
``[after, before)``, newest or oldest first, paged, with how many the window holds.  Bodies
are returned exactly as stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.query.catalog.rows import Page
from threadline.query.reading import read
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

_ev = s.events


class StoredBody(bytes):
    """One stored event body (canonical JSON bytes)."""

    def to_dict(self) -> dict[str, object]:
        return {"body": self.decode()}


def events_by_time(
    store: Store,
    *,
    before_us: int | None = None,
    after_us: int | None = None,
    newest_first: bool = True,
    limit: int = 100,
    offset: int = 0,
) -> Page[StoredBody]:
    """Events with ``after_us <= eventTime < before_us`` (either bound optional), ordered by
    event time (then log order) newest or oldest first."""
    where: list[sa.ColumnElement[bool]] = []
    if before_us is not None:
        where.append(_ev.c.event_time_us < before_us)
    if after_us is not None:
        where.append(_ev.c.event_time_us >= after_us)
    order = (
        (_ev.c.event_time_us.desc(), _ev.c.seq.desc())
        if newest_first
        else (_ev.c.event_time_us, _ev.c.seq)
    )

    def query(conn: Connection) -> Page[StoredBody]:
        total = int(
            conn.execute(sa.select(sa.func.count()).select_from(_ev).where(*where)).scalar_one()
        )
        rows = conn.execute(
            sa.select(_ev.c.body).where(*where).order_by(*order).limit(limit).offset(offset)
        )
        return Page(total, [StoredBody(s.as_bytes(body)) for (body,) in rows])

    return read(store, query)


__all__ = ["StoredBody", "events_by_time"]
