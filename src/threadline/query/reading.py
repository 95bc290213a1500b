"""Plumbing shared by the queries: reading safely, id lists, and times."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import StoreUnavailable
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

T = TypeVar("T")

#: Chunk sizes an id list is padded to; the largest bounds one statement's parameters.
BUCKETS: Final = (1, 8, 64, 512)
#: Padding value: row ids start at 1, so it never matches.
_PAD: Final = -1
#: The statement "size" of the one-array-parameter form (PostgreSQL).
_ARRAY: Final = 0


def read(store: Store, fn: Callable[[Connection], T]) -> T:
    """Run ``fn`` on a read connection; driver failures become :class:`StoreUnavailable`."""
    try:
        result: T = store.read(fn)
    except sa.exc.DBAPIError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StoreUnavailable(f"cannot read store {store.safe_url}: {reason}") from exc
    return result


class InList:
    """``SELECT … WHERE key IN (:p0, …, :pN)`` over many ids, compiled once per size.

    SQLAlchemy's expanding ``IN`` re-renders the SQL on every execution, and each distinct list
    length is a new statement for the driver to prepare.  Padding every chunk to one of a few
    sizes (:data:`BUCKETS`) keeps the SQL text stable, so each statement is built and compiled
    once per dialect and prepared once per connection.  Rows come back as plain tuples through
    the DBAPI cursor: on the hot path of a trace, SQLAlchemy's per-row ``Row`` costs more than
    the SQLite lookups themselves.  The statements are still SQLAlchemy Core over
    :mod:`threadline.store.schema`, so every dialect gets its own placeholders and quoting.
    """

    def __init__(self, build: Callable[[Ids], sa.Select[Any]]):
        self._build = build
        self._compiled: dict[tuple[str, int], _Compiled] = {}

    def _statement(self, conn: Connection, size: int) -> _Compiled:
        key = (conn.dialect.name, size)
        hit = self._compiled.get(key)
        if hit is None:
            ids: Ids
            if size == _ARRAY:
                # Only PostgreSQL takes arrays: SQLite processes never import its dialect (~45 ms).
                from sqlalchemy.dialects import postgresql

                ids = Ids(array=sa.bindparam("ids", type_=postgresql.ARRAY(sa.BigInteger)))
            else:
                ids = Ids(params=[sa.bindparam(f"p{i}", type_=sa.BigInteger) for i in range(size)])
            compiled = self._build(ids).compile(dialect=conn.dialect)
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            hit = self._compiled[key] = _Compiled(str(compiled), size, order, compiled.params)
        return hit

    def fetch(
        self, conn: Connection, ids: Sequence[int], extra: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Every row whose key is one of ``ids`` (``extra`` binds the statement's other names)."""
        if not ids:
            return []
        if not conn.in_transaction():
            # One snapshot for the whole question, however many statements it takes.
            conn.begin()
        cursor = conn.connection.cursor()
        rows: list[tuple[Any, ...]] = []
        try:
            if conn.dialect.name == "postgresql":
                # One array parameter, whatever the count: psycopg caches its parse of short
                # statements only, and a 512-placeholder IN list was re-parsed on every call
                # (a third of a trace's time on PostgreSQL).
                statement = self._statement(conn, _ARRAY)
                cursor.execute(statement.sql, statement.array_parameters(ids, extra or {}))
                rows.extend(cursor.fetchall())
                return rows
            top = BUCKETS[-1]
            for start in range(0, len(ids), top):
                chunk = ids[start : start + top]
                size = next(b for b in BUCKETS if b >= len(chunk))
                statement = self._statement(conn, size)
                cursor.execute(statement.sql, statement.parameters(chunk, extra or {}))
                rows.extend(cursor.fetchall())
        finally:
            cursor.close()
        return rows


class Ids:
    """What an :class:`InList` builder matches a column against: a padded list of
    placeholders, or (PostgreSQL) one array parameter.  Builders call :meth:`match`."""

    __slots__ = ("array", "params")

    def __init__(
        self,
        *,
        params: Sequence[sa.BindParameter[Any]] = (),
        array: sa.BindParameter[Any] | None = None,
    ) -> None:
        self.params = params
        self.array = array

    def match(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        """``column IN (:p0, …)``, or ``column = ANY(:ids)``."""
        if self.array is not None:
            return column == sa.any_(self.array)
        return column.in_(self.params)


class _Compiled:
    """One compiled size of an :class:`InList` and how to lay out its parameters."""

    __slots__ = ("_defaults", "_extra_names", "_ids_first", "order", "size", "sql")

    def __init__(
        self, sql: str, size: int, order: tuple[str, ...] | None, defaults: Mapping[str, Any]
    ) -> None:
        self.sql = sql
        self.size = size
        self.order = order
        # Values the statement carries itself (literals such as a LIMIT become parameters).
        self._defaults = {k: v for k, v in defaults.items() if v is not None}
        ids = tuple(f"p{i}" for i in range(size))
        # The usual layout: the id list first, then any other names in order.
        self._ids_first = order is not None and order[:size] == ids
        self._extra_names = order[size:] if order is not None else ()

    def array_parameters(self, ids: Sequence[int], extra: Mapping[str, Any]) -> Any:
        named = {**self._defaults, **extra} if self._defaults else dict(extra)
        named["ids"] = list(ids)
        if self.order is None:
            return named
        return tuple(named[name] for name in self.order)

    def parameters(self, chunk: Sequence[int], extra: Mapping[str, Any]) -> Any:
        padded = [*chunk, *([_PAD] * (self.size - len(chunk)))]
        named = {**self._defaults, **extra} if self._defaults else extra
        if self._ids_first:
            return (*padded, *(named[name] for name in self._extra_names))
        values: dict[str, Any] = {f"p{i}": v for i, v in enumerate(padded)}
        values.update(named)
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)


def outputs_of_readers(read: Any, kind: str) -> sa.Select[Any]:
    """Versions of ``kind`` written by the executions that read ``read`` (a version id, a bind
    parameter or a scalar subquery): the two-hop question behind a model's deployments and
    evaluations.  Columns: ``id``, ``node_id``, ``version``, ``first_seen_us``."""
    read_by, wrote = s.edges.alias("read_by"), s.edges.alias("wrote")
    v, n = s.versions, s.nodes
    return (
        sa.select(v.c.id, v.c.node_id, v.c.version, v.c.first_seen_us)
        .select_from(read_by)
        .join(wrote, sa.and_(wrote.c.src == read_by.c.dst, wrote.c.relation == "output"))
        .join(v, v.c.id == wrote.c.dst)
        .join(n, n.c.id == v.c.node_id)
        .where(read_by.c.src == read, read_by.c.relation == "input", n.c.kind == kind)
    )


def printable(kind: str, namespace: str, name: str, version: str | None = None) -> str:
    """The printable id (same text as ``str(NodeId(...))``, without validating again)."""
    joiner = "" if name.startswith("/") or namespace.endswith("/") else "/"
    base = f"{kind}:{namespace}{joiner}{name}"
    return f"{base}@{version}" if version else base
