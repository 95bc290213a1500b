"""Schema creation and numbered migrations.

A fresh store gets ``create_all`` and is stamped with the head revision; an older store runs
each pending migration in its own transaction, recording its name in ``tl_migrations`` in that
same transaction.  A store stamped with a revision newer than this code knows is refused
before anything is written.

Opening a store (:func:`ensure_schema`) upgrades it on the way.  :func:`upgrade` is the explicit
form behind ``threadline migrate``: it looks first through a connection that cannot write, so a
dry run, a store already current and a store from a newer threadline are left untouched, and
it reports which migrations it applied.
"""

from __future__ import annotations

import sqlite3
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from threadline._version import __version__
from threadline.errors import SchemaTooNew, StoreUnavailable
from threadline.store import schema as s
from threadline.store import sqlite_engine

Migration = tuple[int, str, Callable[[Connection], None]]

#: Arbitrary but fixed: the PostgreSQL advisory lock key guarding schema changes ("tl" +
#: "schema"), apart from the chain's so that creating a schema never waits on appends.
SCHEMA_LOCK_KEY: Final = 0x746C_7363_6865_6D61


def _serialize_schema_changes(conn: Connection) -> None:
    """Hold the schema lock until this transaction ends, before looking at the schema.

    PostgreSQL's DDL is transactional but not serialized: two processes that both find no
    schema both run ``CREATE TABLE`` and one fails on the catalog's unique index
    (``pg_type_typname_nsp_index``).  Under the lock the second one waits, then finds the
    schema the first created.  SQLite needs nothing: the writer's ``BEGIN IMMEDIATE`` already
    excludes every other writer for the whole transaction.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))


def _events_identity_by_time(conn: Connection) -> None:
    """Revision 2: dedupe events on ``(event_time_us, digest)`` instead of ``digest`` alone.

    The same uniqueness (a digest determines the event time), in an index that grows at its
    right edge; see :data:`threadline.store.schema.events`.
    """
    identity = next(
        c for c in s.events.constraints if getattr(c, "name", None) == "tl_events_identity"
    )
    if conn.dialect.name != "sqlite":
        quote = conn.dialect.identifier_preparer.quote
        for unique in sa.inspect(conn).get_unique_constraints(s.events.name):
            if unique["column_names"] == ["digest"] and unique["name"]:
                conn.exec_driver_sql(
                    f"ALTER TABLE {s.events.name} DROP CONSTRAINT {quote(unique['name'])}"
                )
        # isolate_from_table=False: by default AddConstraint marks the shared Table's constraint
        # as "added later", and every store this process creates afterwards would lack it.
        conn.execute(sa.schema.AddConstraint(identity, isolate_from_table=False))
        return
    # SQLite cannot drop a constraint: rebuild the table (its rows keep their seq and bytes).
    for index in s.events.indexes:
        conn.execute(sa.schema.DropIndex(index, if_exists=True))
    old = "tl_events_rev1"
    conn.exec_driver_sql(f"ALTER TABLE {s.events.name} RENAME TO {old}")
    s.events.create(conn)
    columns = ", ".join(c.name for c in s.events.columns)
    conn.exec_driver_sql(f"INSERT INTO {s.events.name} ({columns}) SELECT {columns} FROM {old}")
    conn.exec_driver_sql(f"DROP TABLE {old}")


def _open_runs_index(conn: Connection) -> None:
    """Revision 3: a partial index of the runs not ended yet (:data:`schema.OPEN_RUN`)."""
    index = next(i for i in s.runs.indexes if i.name == "tl_runs_open")
    index.create(conn, checkfirst=True)


def _identity_digests(conn: Connection) -> None:
    """Revision 4: names and versions of any length, unique by digest (see :mod:`schema`).

    ``tl_nodes`` gains ``identity`` and ``tl_versions`` gains ``version_digest``, filled from
    each row's text; the unique keys move onto them, and the lookups by name become hash
    indexes on PostgreSQL (one column each: ``tl_events_job`` now indexes the job name).
    """
    digests: list[tuple[sa.Table, str, tuple[str, ...], Callable[..., bytes]]] = [
        (s.nodes, "identity", ("type", "namespace", "name"), s.node_identity),
        (s.versions, "version_digest", ("version",), s.version_digest),
    ]
    if conn.dialect.name == "sqlite":
        # SQLite cannot add a NOT NULL column or drop a constraint: rebuild both tables, the
        # digests computed by SQLite calling back into Python while it copies.  With foreign
        # keys on, renaming tl_nodes repoints tl_versions' reference at the old copy, so the
        # old tl_nodes is dropped only after tl_versions was rebuilt onto the new one.
        raw = conn.connection.dbapi_connection
        assert raw is not None
        for table, column, sources, digest in digests:
            function = f"tl_{column}"
            raw.create_function(function, len(sources), digest, deterministic=True)
            for index in table.indexes:
                conn.execute(sa.schema.DropIndex(index, if_exists=True))
            old = f"{table.name}_rev3"
            conn.exec_driver_sql(f"ALTER TABLE {table.name} RENAME TO {old}")
            table.create(conn)
            kept = [c.name for c in table.columns if c.name != column]
            conn.exec_driver_sql(
                f"INSERT INTO {table.name} ({', '.join(kept)}, {column}) "
                f"SELECT {', '.join(kept)}, {function}({', '.join(sources)}) FROM {old}"
            )
        for table, *_rest in reversed(digests):  # the referring table's old copy first
            conn.exec_driver_sql(f"DROP TABLE {table.name}_rev3")
    else:
        quote = conn.dialect.identifier_preparer.quote
        for table, column, sources, digest in digests:
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column} BYTEA")
            _fill(conn, table, column, sources, digest)
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ALTER COLUMN {column} SET NOT NULL")
            for unique in sa.inspect(conn).get_unique_constraints(table.name):
                if unique["name"] and column not in unique["column_names"]:
                    conn.exec_driver_sql(
                        f"ALTER TABLE {table.name} DROP CONSTRAINT {quote(unique['name'])}"
                    )
            identity = next(c for c in table.constraints if isinstance(c, sa.UniqueConstraint))
            conn.execute(sa.schema.AddConstraint(identity, isolate_from_table=False))
        for index in (*s.nodes.indexes, *s.versions.indexes):
            conn.execute(sa.schema.DropIndex(index, if_exists=True))
            index.create(conn)
    job = next(i for i in s.events.indexes if i.name == "tl_events_job")
    conn.execute(sa.schema.DropIndex(job, if_exists=True))
    job.create(conn)


def _projection_watermark(conn: Connection) -> None:
    """Revision 5: the graph may lag the log (:mod:`threadline.store.projector`); every
    record of an older store was projected by its own append."""
    head = conn.execute(sa.select(sa.func.max(s.events.c.seq))).scalar_one()
    s.set_meta(conn, s.GRAPH_PROJECTED, str(int(head or 0)))


def _fill(
    conn: Connection,
    table: sa.Table,
    column: str,
    sources: tuple[str, ...],
    digest: Callable[..., bytes],
    page: int = 5000,
) -> None:
    """Set ``column`` of every row to ``digest`` of its ``sources``, a page at a time."""
    ids = table.c.id
    select = sa.select(ids, *(table.c[name] for name in sources)).order_by(ids).limit(page)
    update = (
        table.update().where(ids == sa.bindparam("row_id")).values({column: sa.bindparam("value")})
    )
    last = 0
    while rows := conn.execute(select.where(ids > last)).all():
        conn.execute(update, [{"row_id": r[0], "value": digest(*r[1:])} for r in rows])
        last = rows[-1][0]


def _events_without_run_index(conn: Connection) -> None:
    """Revision 6: the log loses its index by run id (see :mod:`schema`); a run's events are
    found through ``tl_runs``."""
    conn.exec_driver_sql("DROP INDEX IF EXISTS tl_events_run")


#: (revision it upgrades *to*, name, function).  Revision 1 is the initial schema.
MIGRATIONS: Final[list[Migration]] = [
    (2, "0002_events_identity_by_time", _events_identity_by_time),
    (3, "0003_open_runs_index", _open_runs_index),
    (4, "0004_identity_digests", _identity_digests),
    (5, "0005_projection_watermark", _projection_watermark),
    (6, "0006_events_without_run_index", _events_without_run_index),
]


def _stamp(conn: Connection, revision: int) -> None:
    conn.execute(sa.delete(s.meta).where(s.meta.c.key == "schema_version"))
    conn.execute(sa.insert(s.meta).values(key="schema_version", value=str(revision)))


def stored_revision(conn: Connection) -> int | None:
    if not sa.inspect(conn).has_table(s.meta.name):
        return None
    value = conn.execute(
        sa.select(s.meta.c.value).where(s.meta.c.key == "schema_version")
    ).scalar_one_or_none()
    return int(value) if value is not None else None


def ensure_schema(engine: Engine, *, upgrade: bool = True) -> int:
    """Create or upgrade the schema; returns the revision the store is at afterwards."""
    with engine.begin() as conn:
        _serialize_schema_changes(conn)
        revision = stored_revision(conn)
        if revision is None:
            s.metadata.create_all(conn)
            _stamp(conn, s.SCHEMA_VERSION)
            now = time.time_ns() // 1000
            conn.execute(
                sa.insert(s.meta),
                [
                    {"key": "created_by", "value": f"threadline {__version__}"},
                    {"key": s.GRAPH_PROJECTED, "value": "0"},
                ],
            )
            conn.execute(sa.insert(s.migrations).values(name="0001_initial", applied_us=now))
            return s.SCHEMA_VERSION
    _refuse_newer(revision)
    if not upgrade:
        return revision
    return _apply_pending(engine, revision)[0]


def _refuse_newer(revision: int) -> None:
    if revision > s.SCHEMA_VERSION:
        raise SchemaTooNew(
            f"store schema revision {revision} is newer than this threadline understands "
            f"({s.SCHEMA_VERSION}); upgrade threadline (pip install -U threadline)"
        )


def pending(revision: int) -> list[Migration]:
    """The migrations a store at ``revision`` still needs, in the order they run."""
    return [m for m in MIGRATIONS if revision < m[0] <= s.SCHEMA_VERSION]


def _apply_pending(engine: Engine, revision: int) -> tuple[int, list[str]]:
    """Run what ``revision`` lacks; the revision reached and the names this call applied."""
    applied: list[str] = []
    for target, name, apply in pending(revision):
        with engine.begin() as conn:
            # Another process may have migrated meanwhile: look again under the schema lock.
            _serialize_schema_changes(conn)
            current = conn.execute(
                sa.select(s.meta.c.value).where(s.meta.c.key == "schema_version").with_for_update()
            ).scalar_one()
            if int(current) >= target:
                revision = int(current)
                continue
            apply(conn)
            conn.execute(
                sa.insert(s.migrations).values(name=name, applied_us=time.time_ns() // 1000)
            )
            _stamp(conn, target)
        revision = target
        applied.append(name)
    return revision, applied


# --- threadline migrate ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpgradeReport:
    """What :func:`upgrade` found and did."""

    store: str
    """The store's URL, password hidden."""
    from_revision: int
    to_revision: int
    """The revision the store is at afterwards (for a dry run: would be)."""
    migrations: tuple[str, ...]
    """Names of the migrations applied (for a dry run: pending), oldest first."""
    dry_run: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "store": self.store,
            "from_revision": self.from_revision,
            "to_revision": self.to_revision,
            "migrations": list(self.migrations),
            "dry_run": self.dry_run,
        }


def upgrade(url: str, *, dry_run: bool = False) -> UpgradeReport:
    """Bring the existing store at ``url`` (already normalized) to this code's revision.

    Raises :class:`StoreUnavailable` when there is no store there (this never creates one)
    or it cannot be reached, and :class:`SchemaTooNew` when a newer threadline wrote it; in
    every case nothing was written.
    """
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    sqlite_path = _sqlite_path(url)
    try:
        reader = _reader(url, sqlite_path)
        try:
            with reader.connect() as conn:
                revision = stored_revision(conn)
        finally:
            reader.dispose()
        if revision is None:
            raise StoreUnavailable(f"no threadline store at {shown} (nothing to migrate)")
        _refuse_newer(revision)
        todo = [name for _target, name, _apply in pending(revision)]
        if dry_run or not todo:
            return UpgradeReport(shown, revision, s.SCHEMA_VERSION, tuple(todo), dry_run)
        writer = _writer(url, sqlite_path)
        try:
            reached, applied = _apply_pending(writer, revision)
        finally:
            writer.dispose()
    except sa.exc.SQLAlchemyError as exc:
        raise StoreUnavailable(
            f"cannot migrate store {shown}: {getattr(exc, 'orig', None) or exc}"
        ) from exc
    return UpgradeReport(shown, revision, reached, tuple(applied), False)


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:"):
        return None
    database = sa.engine.make_url(url).database
    if not database or database == ":memory:":
        raise StoreUnavailable("an SQLite store needs a file path (sqlite:///path/lineage.db)")
    path = Path(database)
    if not path.is_file() or path.stat().st_size == 0:
        raise StoreUnavailable(f"no store at {path} (nothing to migrate)")
    return path


def _reader(url: str, sqlite_path: Path | None) -> Engine:
    """An engine that cannot change the store: inspecting must not touch it."""
    if sqlite_path is None:
        return _server_engine(url)
    # mode=ro: a plain connection would be allowed to write (a journal-mode change, a new file).
    target = "file:" + urllib.parse.quote(str(sqlite_path)) + "?mode=ro"
    return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(target, uri=True))


def _writer(url: str, sqlite_path: Path | None) -> Engine:
    if sqlite_path is None:
        return _server_engine(url)
    # The store's own writer configuration: BEGIN IMMEDIATE makes each migration one
    # transaction that excludes other writers (pysqlite alone would autocommit DDL).
    return sqlite_engine.write_engine(url)


def _server_engine(url: str) -> Engine:
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise StoreUnavailable(f"cannot use {url.split('@')[-1]}: {exc}") from exc
