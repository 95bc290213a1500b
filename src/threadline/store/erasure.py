"""Erasure in the log: rewriting bodies under an erasure event, and reading what erasure
events committed to.

An erasure (``threadline gc`` applying a ``delete`` rule, :mod:`threadline.lifecycle.erase`)
rewrites stored bodies so that what the rule deletes is gone, and in the same transaction
appends an *erasure event* to the log: a RunEvent of job ``threadline`` /
``lifecycle/erase`` whose run facet ``threadline_erasure`` names the rule and its reason and,
for each record it rewrote, the record's ``seq``, its chain ``hash`` (kept), its original
``digest`` (kept in the indexed column, so the same event sent again is still a duplicate and
is not stored a second time) and the BLAKE3 of its new ``body``.  Verification reads these
commitments (:func:`erasures`) and checks erased records against them
(:class:`~threadline.integrity.chain.Erasure`).  The graph becomes stale in that transaction
(``graph_stale`` in ``tl_meta``) until :func:`~threadline.store.rebuild.rebuild_graph` runs.

The event carries no name, path or facet of what was erased: only positions and digests.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import blake3
import sqlalchemy as sa

from threadline.errors import IntegrityError
from threadline.store import schema as s
from threadline.store.admin import (
    ERASURE_FACET,
    ERASURE_JOB,
    ERASURE_SCHEMA,
    erasures,
    lifecycle_event,
)
from threadline.store.rebuild import mark_stale
from threadline.store.sql import SqlStore


@dataclass(frozen=True, slots=True)
class Rewrite:
    """One stored record and the body an erasure gives it."""

    seq: int
    old_body: bytes
    new_body: bytes


def erasure_event(rule: str, reason: str, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return lifecycle_event(
        ERASURE_JOB, ERASURE_FACET, ERASURE_SCHEMA, rule, reason, records=list(records)
    )


def erase(store: SqlStore, rewrites: Sequence[Rewrite], *, rule: str, reason: str) -> int:
    """Rewrite ``rewrites``' bodies and append their erasure event, in one transaction;
    returns the erasure event's ``seq``.  A record whose body changed since it was read
    (another erasure ran meanwhile) fails the whole transaction, so nothing is half-done."""
    if not rewrites:
        raise ValueError("an erasure needs records to rewrite")
    e = s.events
    with store._write_lock, store._write_connection(True) as conn:
        store._lock_chain(conn)
        store._check_graph_epoch(conn)
        wanted = sorted({r.seq for r in rewrites})
        stored = {
            int(row.seq): row
            for start in range(0, len(wanted), 500)
            for row in conn.execute(
                sa.select(e.c.seq, e.c.body, e.c.hash, e.c.digest).where(
                    e.c.seq.in_(wanted[start : start + 500])
                )
            )
        }
        # An archived record has an empty body here; its body is the archived one it committed.
        moved = erasures(conn) if any(not s.as_bytes(r.body) for r in stored.values()) else {}
        records = []
        for rewrite in rewrites:
            row = stored.get(rewrite.seq)
            body = s.as_bytes(row.body) if row is not None else None
            if body == b"" and rewrite.seq in moved:
                mark = moved[rewrite.seq]
                if (
                    mark.archived_in
                    and blake3.blake3(rewrite.old_body).digest() == mark.body_digest
                ):
                    body = rewrite.old_body
            if row is None or body != rewrite.old_body:
                raise IntegrityError(
                    f"record {rewrite.seq} changed while the erasure ran; nothing was erased "
                    "in this batch: run threadline gc again"
                )
            records.append(
                {
                    "seq": rewrite.seq,
                    "hash": s.as_bytes(row.hash).hex(),
                    "digest": s.as_bytes(row.digest).hex(),
                    "body": blake3.blake3(rewrite.new_body).hexdigest(),
                }
            )
            conn.execute(e.update().where(e.c.seq == rewrite.seq).values(body=rewrite.new_body))
        batch = store._prepare([erasure_event(rule, reason, records)])
        result = store._append_locked(conn, batch)
        mark_stale(conn, wanted[0] - 1)
    return result.head_seq


_SALT: Final = "erasure_salt"


def erasure_salt(store: SqlStore) -> bytes:
    """The salt of the current ``gc`` run's pseudonyms, made on first use and kept in
    ``tl_meta`` until :func:`forget_erasure_salt`: a run killed half-way and started again
    gives the names it had not reached yet the same pseudonyms as the ones it had."""
    with store._write_lock, store._write.begin() as conn:
        value = conn.execute(
            sa.select(s.meta.c.value).where(s.meta.c.key == _SALT)
        ).scalar_one_or_none()
        if value is None:
            value = os.urandom(32).hex()
            conn.execute(sa.insert(s.meta).values(key=_SALT, value=value))
    return bytes.fromhex(str(value))


def forget_erasure_salt(store: SqlStore) -> None:
    """Drop the salt once the run is complete: nobody can recompute a pseudonym from a
    guessed name afterwards."""
    with store._write_lock, store._write.begin() as conn:
        conn.execute(sa.delete(s.meta).where(s.meta.c.key == _SALT))


def reclaim_space(store: SqlStore) -> None:
    """Rewrite the database files so the bytes of rewritten bodies and replaced graph rows
    are gone from the disk, not merely unreferenced (SQLite: ``VACUUM`` and a truncating WAL
    checkpoint; PostgreSQL: ``VACUUM FULL`` of the log and graph tables, which holds an
    exclusive lock on each while it runs)."""
    tables = ("tl_events", "tl_nodes", "tl_versions", "tl_edges", "tl_runs", "tl_meta")
    with store._write_lock:
        if store.dialect == "sqlite":
            # Straight on the driver's connection: the engine's begin hook would open the
            # transaction VACUUM cannot run in.
            raw = store._write.raw_connection()
            try:
                driver: Any = raw.driver_connection
                driver.execute("VACUUM")
                driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
            return
        with store._write.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in tables:
                auto.exec_driver_sql(f"VACUUM (FULL) {table}")


__all__ = [
    "Rewrite",
    "erase",
    "erasure_event",
    "erasure_salt",
    "forget_erasure_salt",
    "reclaim_space",
]
