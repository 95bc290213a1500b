"""The upstream question, :func:`trace`: a version's lineage graph, or one data row's.

It sits above :mod:`threadline.query.graph` (the walk) and :mod:`threadline.query.rows` (the row
trace built on that walk), so neither needs the other at call time.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, overload

from threadline.query.graph import DEFAULT_LIMIT, lineage
from threadline.query.resolve import split_row
from threadline.query.result import LineageGraph
from threadline.query.rows import RowTrace, trace_row

if TYPE_CHECKING:
    from threadline.store.base import Store


@overload
def trace(
    store: Store,
    ref: str,
    *,
    depth: int | None = ...,
    as_of: dt.datetime | str | None = ...,
    limit: int | None = ...,
    row: int,
    row_values: bool = ...,
) -> RowTrace: ...
@overload
def trace(
    store: Store,
    ref: str,
    *,
    depth: int | None = ...,
    as_of: dt.datetime | str | None = ...,
    limit: int | None = ...,
    row: None = ...,
    row_values: bool = ...,
) -> LineageGraph: ...


def trace(
    store: Store,
    ref: str,
    *,
    depth: int | None = None,
    as_of: dt.datetime | str | None = None,
    limit: int | None = DEFAULT_LIMIT,
    row: int | None = None,
    row_values: bool = True,
) -> LineageGraph:
    """Everything upstream of ``ref``: the executions, code, people and data that produced it,
    back to the raw sources.

    ``ref`` is a printable id or a path (:mod:`threadline.query.resolve`); ``depth`` counts
    edges (one pipeline step is two); ``as_of`` is a ``datetime`` or ISO 8601 text (naive means
    UTC); ``limit`` caps the vertices returned (``None``: no cap).

    ``row=N`` (or ``ref`` ending in ``#row=N``; rows count from 0, header excluded) traces one
    data row instead and returns a :class:`~threadline.query.rows.RowTrace`: the same graph
    plus the input row, model and deployment behind that row (:mod:`threadline.query.rows`).
    ``row_values=False`` keeps it from reading row values out of local files.
    """
    base, wanted = split_row(ref, row)
    if wanted is not None:
        return trace_row(
            store, base, wanted, depth=depth, as_of=as_of, limit=limit, values=row_values
        )
    return lineage(store, base, direction="upstream", depth=depth, as_of=as_of, limit=limit)


__all__ = ["trace"]
