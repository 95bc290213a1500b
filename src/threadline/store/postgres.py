"""The PostgreSQL store: the same schema and logic, appends serialized by an advisory lock.

``pg_advisory_xact_lock`` is held from the read of the chain head to the commit, so concurrent
writers (processes, server workers) take turns and the chain never forks; the lock is released
by the commit or rollback itself, so a crashed writer cannot leave it held.

Each append that adds records also sends ``NOTIFY`` on :data:`APPEND_CHANNEL` with the new head
sequence number, from the same transaction: PostgreSQL delivers it only if the append commits,
and in commit order, so every server's change stream learns of every commit at once (the
listener reads the rows itself; :mod:`threadline.server.notify`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from threadline.errors import StoreUnavailable
from threadline.store.base import AppendResult
from threadline.store.schema import use_postgresql_index_options
from threadline.store.sql import SqlStore, _Batch

#: Arbitrary but fixed: the advisory lock key guarding the chain head ("tl" + "chain").
CHAIN_LOCK_KEY: Final = 0x746C_6368_6169_6E
#: The channel appends are announced on; the payload is the log's new head sequence number.
APPEND_CHANNEL: Final = "threadline_appends"


class PostgresStore(SqlStore):
    dialect = "postgresql"
    # Each statement is a round trip to the server: send bulk inserts 200 rows at a time.
    rows_per_statement = 200

    def __init__(self, url: str) -> None:
        use_postgresql_index_options()  # before the schema is created or migrated
        try:
            engine = sa.create_engine(url, pool_pre_ping=True, pool_size=4)
        except (ImportError, sa.exc.ArgumentError) as exc:
            raise StoreUnavailable(
                f"cannot use {url.split('@')[-1]}: {exc} (pip install 'threadline[postgres]')"
            ) from exc
        super().__init__(url, engine, engine)
        self.archive_dir = Path(".threadline/archive").resolve()

    def _insert(self, table: sa.Table) -> Any:
        return postgresql.insert(table)

    def _lock_chain(self, conn: Connection) -> None:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CHAIN_LOCK_KEY)))

    def _append_locked(self, conn: Connection, batch: _Batch) -> AppendResult:
        result = super()._append_locked(conn, batch)
        if result.appended:
            conn.execute(sa.select(sa.func.pg_notify(APPEND_CHANNEL, str(result.head_seq))))
        return result

    @property
    def libpq_url(self) -> str:
        """The store's URL as libpq (and so ``psycopg.connect``) takes it, password included."""
        return (
            sa.engine.make_url(self.url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )

    def _ids_assigned(self, conn: Connection, table: sa.Table, last_id: int) -> None:
        # The store picks node and version ids itself (under the lock); keep each column's
        # serial sequence past them so that any insert relying on the default cannot collide.
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        conn.execute(sa.select(sa.func.setval(sequence, last_id)))

    def sync(self) -> None:
        """Nothing to do: PostgreSQL commits are durable (``synchronous_commit`` on)."""
