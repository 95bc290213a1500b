"""Datasets and jobs found by name, the way Marquez's search finds them (:func:`search`).

``pattern`` matches any part of the name, case-insensitively; in it ``%`` stands for any run of
characters and ``_`` for one character (SQL ``LIKE``, as Marquez documents).  Hits can be
narrowed to one type, one namespace and a window of last-update days, and are ordered by name
or by latest update.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import UsageError
from threadline.query.catalog.rows import Page, SearchHit
from threadline.query.reading import read
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

SearchSort = Literal["name", "updated_at"]

#: What ``type_`` may be.
SEARCH_TYPES: Final = ("dataset", "job")

_n = s.nodes


def day_start_us(text: str, option: str) -> int:
    """Midnight UTC of a ``YYYY-MM-DD`` day, in epoch microseconds; :class:`UsageError` naming
    ``option`` when ``text`` is not such a day."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{option} {text!r} is not a day (expected YYYY-MM-DD)") from exc
    moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1_000_000


def search(
    store: Store,
    pattern: str,
    *,
    type_: str | None = None,
    namespace: str | None = None,
    sort: SearchSort = "name",
    updated_before_us: int | None = None,
    updated_from_us: int | None = None,
    limit: int = 10,
    offset: int = 0,
) -> Page[SearchHit]:
    """Datasets and jobs whose name contains ``pattern`` (see the module docs), updated at or
    after ``updated_from_us`` and before ``updated_before_us``; by name (then namespace and
    type) or newest update first."""
    if not pattern:
        raise UsageError("the search pattern is empty; pass the part of a name to look for")
    if type_ is not None and type_ not in SEARCH_TYPES:
        raise UsageError(f"cannot search for {type_!r}; expected one of: dataset, job")
    where: list[sa.ColumnElement[bool]] = [
        _n.c.type.in_([type_] if type_ else SEARCH_TYPES),
        _n.c.name.ilike(f"%{pattern}%"),
    ]
    if namespace is not None:
        where.append(_n.c.namespace == namespace)
    if updated_before_us is not None:
        where.append(_n.c.updated_us < updated_before_us)
    if updated_from_us is not None:
        where.append(_n.c.updated_us >= updated_from_us)
    order: tuple[sa.ColumnElement[Any], ...]
    if sort == "name":
        order = (_n.c.name, _n.c.namespace, _n.c.type)
    else:
        order = (_n.c.updated_us.desc(), _n.c.name, _n.c.namespace, _n.c.type)

    def query(conn: Connection) -> Page[SearchHit]:
        total = int(
            conn.execute(sa.select(sa.func.count()).select_from(_n).where(*where)).scalar_one()
        )
        rows = conn.execute(
            sa.select(_n.c.type, _n.c.namespace, _n.c.name, _n.c.updated_us)
            .where(*where)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
        )
        return Page(
            total, [SearchHit(r.type, r.namespace, r.name, int(r.updated_us)) for r in rows]
        )

    return read(store, query)


__all__ = ["SEARCH_TYPES", "SearchSort", "day_start_us", "search"]
