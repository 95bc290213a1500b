"""The bulk statement compiler: the append path's inserts, updates and key lookups.

Every bulk statement is a Core construct over :mod:`threadline.store.schema`, compiled once per
store for its dialect and run through the driver's ``executemany`` with plain tuples:
SQLAlchemy's per-row parameter processing was most of the cost of a batch (see
``bench/bench_ingest.py``).  Each statement has a name (``"events"``, ``"node_update"``,
``"find_nodes"``…) and a *row layout*: the order of the values in the row tuples it takes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.store import schema as s

#: Keys per lookup statement: with 3-column keys, well under any driver's parameter limit.
CHUNK: Final = 400
#: Keys per lookup statement for a few keys (a single event, a short command's batch): a
#: 400-key statement padded from 2 keys binds 800 parameters for nothing.
SMALL_CHUNK: Final = 16


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Row layouts of the bulk statements: every row is a tuple in exactly this order.
EVENT_COLUMNS: Final = tuple(c.name for c in s.events.columns)
NODE_COLUMNS: Final = tuple(c.name for c in s.nodes.columns)
VERSION_COLUMNS: Final = tuple(c.name for c in s.versions.columns)
EDGE_COLUMNS: Final = tuple(c.name for c in s.edges.columns)
RUN_COLUMNS: Final = tuple(c.name for c in s.runs.columns)
#: Insert statements: row layout, and the natural key a conflict is detected on.
INSERTS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    # A stored event is skipped, and the append sees it in the count of rows changed.
    "events": (EVENT_COLUMNS, ("event_time_us", "digest")),
    "nodes": (NODE_COLUMNS, ("identity",)),
    "versions": (VERSION_COLUMNS, ("node_id", "version_digest")),
    "edges": (EDGE_COLUMNS, ("src", "dst", "relation")),
    "runs": (RUN_COLUMNS, ("run_id",)),
}
#: Update statements' row layouts: ``(row id, new values…)``.
NODE_UPDATE: Final = ("b_id", "kind", "facets", "updated_us")
VERSION_UPDATE: Final = ("b_id", "facets", "b_first", "b_last")
VERSION_TOUCH: Final = ("b_id", "b_first", "b_last")


@dataclass(frozen=True, slots=True)
class Bulk:
    """A Core statement compiled once for the store's dialect, run through the driver."""

    sql: str
    # Positional paramstyles (sqlite3): the parameter names in the order the driver wants.
    order: tuple[str, ...]
    # Where each driver parameter comes from in our row tuples; None when already in order.
    take: tuple[int, ...] | None
    # Parameter names for named paramstyles (psycopg); None for positional ones (sqlite3).
    names: tuple[str, ...] | None

    def params(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """The driver's parameters for ``rows`` laid out as the statement's layout says."""
        if self.names is not None:
            names = self.names
            return [dict(zip(names, row, strict=True)) for row in rows]
        if self.take is not None:
            take = self.take
            return [tuple(row[i] for i in take) for row in rows]
        return rows


def as_bulk(compiled: Any, layout: tuple[str, ...]) -> Bulk:
    """The :class:`Bulk` form of a compiled statement whose rows follow ``layout``."""
    if not compiled.positional:
        return Bulk(str(compiled), (), None, layout)
    order = tuple(compiled.positiontup or ())
    if not layout:  # a lookup: keys flattened in order by BulkStatements.find
        flat = _flat_positions(order)
        return Bulk(str(compiled), order, None if flat == tuple(range(len(order))) else flat, None)
    where = {key: index for index, key in enumerate(layout)}
    take = tuple(where[key] for key in order)
    return Bulk(str(compiled), order, None if take == tuple(range(len(layout))) else take, None)


def _flat_positions(order: tuple[str, ...]) -> tuple[int, ...]:
    """Where each lookup parameter ``k{i}_{j}`` (key ``i``, column ``j``) sits among the
    keys' values laid end to end."""
    pairs = [tuple(int(part) for part in name[1:].split("_")) for name in order]
    width = 1 + max((column for _key, column in pairs), default=0)
    return tuple(key * width + column for key, column in pairs)


def lookup_size(keys: int) -> int:
    """The statement size that takes ``keys`` keys: the next power of two from
    :data:`SMALL_CHUNK`, at most :data:`CHUNK` (a handful of statements are ever compiled,
    and padding binds at most twice the parameters needed)."""
    size = SMALL_CHUNK
    while size < keys and size < CHUNK:
        size *= 2
    return min(size, CHUNK)


class BulkStatements:
    """The bulk statements of one store, compiled on first use and kept.

    ``insert`` is the dialect's ``insert`` construct (it provides ``ON CONFLICT``);
    ``rows_per_statement`` is how many rows one ``INSERT`` carries (1: one prepared statement
    run per row, which is fastest in-process).
    """

    def __init__(self, insert: Callable[[sa.Table], Any], rows_per_statement: int) -> None:
        self._insert = insert
        self._rows_per_statement = rows_per_statement
        self._cache: dict[str, Bulk] = {}

    def run(self, conn: Connection, name: str, rows: list[tuple[Any, ...]]) -> int:
        """Run bulk statement ``name`` for many row tuples straight through the driver; returns
        how many rows it changed.

        Where a round trip per row is what costs (``rows_per_statement`` above 1), inserts
        carry many rows each: full statements first, then the rest by halves, so that only a
        few distinct statements are ever compiled.
        """
        changed = 0
        per_statement = self._rows_per_statement
        if per_statement > 1 and name in INSERTS:
            done = 0
            while (left := len(rows) - done) > 1:
                size = per_statement
                if left < size:
                    size = 1 << (left.bit_length() - 1)
                count = left // size if size == per_statement else 1
                changed += self._run_multi(conn, name, size, rows[done : done + size * count])
                done += size * count
            rows = rows[done:]
        if not rows:
            return changed
        bulk = self._compile(conn, name)
        return changed + int(conn.exec_driver_sql(bulk.sql, bulk.params(rows)).rowcount)

    def find(self, conn: Connection, what: str, wanted: Sequence[Any]) -> list[Any]:
        """Rows matching any of ``wanted`` keys (scalars, or tuples for composite keys)."""
        found: list[Any] = []
        if not wanted:
            return found
        composite = isinstance(wanted[0], tuple)
        for chunk in chunks(wanted):
            size = lookup_size(len(chunk))
            bulk = self._compile(conn, f"find_{what}@{size}")
            padded = [*chunk, *[chunk[-1]] * (size - len(chunk))]
            args: Any
            if bulk.names is None:  # positional: the keys' values end to end
                flat = list(itertools.chain.from_iterable(padded)) if composite else padded
                args = tuple(flat) if bulk.take is None else tuple(flat[i] for i in bulk.take)
            elif composite:
                args = {f"k{i}_{j}": v for i, key in enumerate(padded) for j, v in enumerate(key)}
            else:
                args = {f"k{i}_0": key for i, key in enumerate(padded)}
            found.extend(conn.exec_driver_sql(bulk.sql, args).all())
        return found

    def _compile(self, conn: Connection, name: str) -> Bulk:
        bulk = self._cache.get(name)
        if bulk is None:
            stmt, layout = self._build(name)
            compiled = stmt.compile(dialect=conn.dialect, column_keys=list(layout) or None)
            bulk = self._cache[name] = as_bulk(compiled, layout)
        return bulk

    def _run_multi(
        self, conn: Connection, name: str, size: int, rows: list[tuple[Any, ...]]
    ) -> int:
        """Insert ``rows`` (a multiple of ``size``) with ``size``-row ``INSERT`` statements."""
        key = f"{name}*{size}"
        bulk = self._cache.get(key)
        if bulk is None:
            width = len(INSERTS[name][0])
            layout = tuple(f"p{i}_{j}" for i in range(size) for j in range(width))
            compiled = self._build_insert(name, size).compile(dialect=conn.dialect)
            bulk = self._cache[key] = as_bulk(compiled, layout)
        grouped = [
            tuple(itertools.chain.from_iterable(rows[i : i + size]))
            for i in range(0, len(rows), size)
        ]
        params = bulk.params(grouped)
        result = conn.exec_driver_sql(bulk.sql, params if len(params) > 1 else params[0])
        return int(result.rowcount)

    def _build(self, name: str) -> tuple[Any, tuple[str, ...]]:
        """The Core statement behind each bulk operation, with the layout of its row tuples.

        Lookups (``find_WHAT@SIZE``) take ``SIZE`` keys (:func:`lookup_size`) as parameters
        ``k{i}_{j}``, compiled once each; :meth:`find` pads the last chunk by repeating a
        key.  Keys of several columns are
        joined from a ``VALUES`` list rather than matched with a row-value ``IN``, which SQLite
        answers with a scan of the whole table instead of index probes.
        """
        if name.startswith("find_"):
            what, _, size = name[5:].partition("@")
            return _build_find(what, int(size)), ()
        if name in INSERTS:
            return self._build_insert(name, 1), INSERTS[name][0]
        if name == "node_update":
            t = s.nodes
            stmt = (
                t.update()
                .where(t.c.id == sa.bindparam("b_id"))
                .values(
                    kind=sa.bindparam("kind"),
                    facets=sa.bindparam("facets"),
                    updated_us=sa.bindparam("updated_us"),
                )
            )
            return stmt, NODE_UPDATE
        v = s.versions
        first: sa.BindParameter[int] = sa.bindparam("b_first")
        last: sa.BindParameter[int] = sa.bindparam("b_last")
        # Monotonic in SQL, so a writer whose cache lags another's never moves them back.
        times = {
            "first_seen_us": sa.case((v.c.first_seen_us > first, first), else_=v.c.first_seen_us),
            "last_seen_us": sa.case((v.c.last_seen_us < last, last), else_=v.c.last_seen_us),
        }
        where = v.c.id == sa.bindparam("b_id")
        if name == "version_update":
            return v.update().where(where).values(facets=sa.bindparam("facets"), **times), (
                VERSION_UPDATE
            )
        if name == "version_touch":
            return v.update().where(where).values(**times), VERSION_TOUCH
        raise KeyError(name)

    def _build_insert(self, name: str, rows: int) -> Any:
        """``INSERT`` into the table behind ``name``; with ``rows > 1``, of that many rows at
        once, from parameters ``p{row}_{column}``."""
        layout, conflict = INSERTS[name]
        table = s.metadata.tables[f"tl_{name}"]
        stmt = self._insert(table)
        if rows > 1:
            columns = [table.c[key] for key in layout]
            stmt = stmt.values(
                [
                    {c.name: sa.bindparam(f"p{i}_{j}", type_=c.type) for j, c in enumerate(columns)}
                    for i in range(rows)
                ]
            )
        if conflict == ("run_id",):
            # A run seen again is merged in Python (see upserts.merge_run_rows): the row
            # replaces.
            return stmt.on_conflict_do_update(
                index_elements=list(conflict),
                set_={c: stmt.excluded[c] for c in layout if c != "run_id"},
            )
        if conflict:
            return stmt.on_conflict_do_nothing(index_elements=list(conflict))
        return stmt


def _build_find(what: str, size: int) -> Any:
    def keys(*columns: sa.Column[Any]) -> list[sa.BindParameter[Any]]:
        return [sa.bindparam(f"k{i}_0", type_=columns[0].type) for i in range(size)]

    def joined(table: sa.Table, *columns: sa.Column[Any]) -> Any:
        rows = [
            tuple(sa.bindparam(f"k{i}_{j}", type_=c.type) for j, c in enumerate(columns))
            for i in range(size)
        ]
        k = sa.values(*(sa.column(c.name, c.type) for c in columns), name="k").data(rows)
        cte = k.cte("k")
        on = sa.and_(*(c == cte.c[c.name] for c in columns))
        return cte, on

    if what == "digests":
        ev = s.events
        cte, on = joined(ev, ev.c.event_time_us, ev.c.digest)
        return sa.select(ev.c.digest).join_from(cte, ev, on)
    if what == "runs":
        return sa.select(*s.runs.c).where(s.runs.c.run_id.in_(keys(s.runs.c.run_id)))
    if what == "nodes":  # by identity digest (schema.node_identity)
        n = s.nodes
        return sa.select(
            n.c.id, n.c.type, n.c.namespace, n.c.name, n.c.kind, n.c.facets, n.c.updated_us
        ).where(n.c.identity.in_(keys(n.c.identity)))
    if what == "versions":  # by (node_id, version digest)
        v = s.versions
        cte, on = joined(v, v.c.node_id, v.c.version_digest)
        return sa.select(
            v.c.id, v.c.node_id, v.c.version, v.c.facets, v.c.first_seen_us, v.c.last_seen_us
        ).join_from(cte, v, on)
    if what == "node_rows":
        n = s.nodes
        return sa.select(n.c.id, n.c.facets, n.c.kind, n.c.updated_us).where(
            n.c.id.in_(keys(n.c.id))
        )
    if what == "version_rows":
        v = s.versions
        return sa.select(v.c.id, v.c.facets).where(v.c.id.in_(keys(v.c.id)))
    raise KeyError(what)


__all__ = [
    "CHUNK",
    "EDGE_COLUMNS",
    "EVENT_COLUMNS",
    "INSERTS",
    "NODE_COLUMNS",
    "RUN_COLUMNS",
    "SMALL_CHUNK",
    "VERSION_COLUMNS",
    "Bulk",
    "BulkStatements",
    "as_bulk",
    "chunks",
    "lookup_size",
]
