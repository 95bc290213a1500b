"""Schema creation and numbered migrations.

A fresh store gets ``create_all`` and is stamped with the head revision; an older store runs
each pending migration in its own transaction, recording its name in ``tl_migrations`` in that
same transaction.  A store stamped with a revision newer than this code knows is refused
before anything is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from threadline._version import __version__
from threadline.errors import SchemaTooNew
from threadline.store import schema as s

Migration = tuple[int, str, Callable[[Connection], None]]


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
        conn.execute(sa.schema.AddConstraint(identity))
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


#: (revision it upgrades *to*, name, function).  Revision 1 is the initial schema.
MIGRATIONS: Final[list[Migration]] = [
    (2, "0002_events_identity_by_time", _events_identity_by_time),
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
        revision = stored_revision(conn)
        if revision is None:
            s.metadata.create_all(conn)
            _stamp(conn, s.SCHEMA_VERSION)
            now = time.time_ns() // 1000
            conn.execute(
                sa.insert(s.meta),
                [{"key": "created_by", "value": f"threadline {__version__}"}],
            )
            conn.execute(sa.insert(s.migrations).values(name="0001_initial", applied_us=now))
            return s.SCHEMA_VERSION
    if revision > s.SCHEMA_VERSION:
        raise SchemaTooNew(
            f"store schema revision {revision} is newer than this threadline understands "
            f"({s.SCHEMA_VERSION}); upgrade threadline (pip install -U threadline)"
        )
    if not upgrade:
        return revision
    for target, name, apply in MIGRATIONS:
        if target <= revision:
            continue
        with engine.begin() as conn:
            # Another process may have migrated meanwhile: look again, holding the stamp row
            # (SQLite's write transaction already excludes other writers).
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
    return revision
