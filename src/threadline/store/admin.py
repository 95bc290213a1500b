"""Integrity administration of a SQL store: read the chain, verify it, take Merkle checkpoints.

These are admin operations (each reads the whole log), kept off the hot :class:`Store`
interface: :class:`~threadline.store.base.IntegrityAdmin` is their protocol, and
:class:`~threadline.store.sql.SqlStore` delegates to :class:`LogAdmin`.  The checks themselves
are pure functions over records (:mod:`threadline.integrity.chain`); this module only feeds
them from the tables.
"""

from __future__ import annotations

import functools
import getpass
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import blake3
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from threadline.errors import IntegrityError, InvalidEvent, NotFound, UsageError
from threadline.integrity import merkle
from threadline.integrity.chain import (
    GENESIS,
    ChainBreak,
    ChainRecord,
    Erasure,
    LogReport,
    consistency_failure,
    leaf,
    verify_log,
)
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.model.ids import uuid7
from threadline.model.times import now_iso
from threadline.store import schema as s
from threadline.store.base import IntegrityAdmin, Store, StoredCheckpoint
from threadline.store.projection import to_micros

#: The job every erasure event belongs to.
ERASURE_NAMESPACE: Final = "threadline"
ERASURE_JOB: Final = "lifecycle/erase"
#: The run facet holding the commitments; producers may not send it (the ingest policy).
ERASURE_FACET: Final = "threadline_erasure"
ERASURE_SCHEMA: Final = "https://threadline.dev/spec/facets/1-0-0/ErasureRunFacet.json"


#: The job and run facet of archive events (:mod:`threadline.store.archive`).
ARCHIVE_JOB: Final = "lifecycle/archive"
ARCHIVE_FACET: Final = "threadline_archive"
ARCHIVE_SCHEMA: Final = "https://threadline.dev/spec/facets/1-0-0/ArchiveRunFacet.json"


def erasures(conn: Connection) -> dict[int, Erasure]:
    """What the log's erasure and archive events (:mod:`threadline.store.erasure`,
    :mod:`threadline.store.archive`) committed to, by the ``seq`` of each record they
    rewrote or moved.

    Only events of those jobs that carry their facet count; a record named twice keeps the
    later commitment (an archived record erased afterwards)."""
    e = s.events
    rows = conn.execute(
        sa.select(e.c.seq, e.c.job_name, e.c.body)
        .where(e.c.job_name.in_((ERASURE_JOB, ARCHIVE_JOB)), e.c.job_namespace == ERASURE_NAMESPACE)
        .order_by(e.c.seq)
    )
    found: dict[int, Erasure] = {}
    for seq, job, body in rows:
        archive = job == ARCHIVE_JOB
        try:
            facets = orjson.loads(s.as_bytes(body))["run"]["facets"]
            facet = facets[ARCHIVE_FACET if archive else ERASURE_FACET]
            for item in facet["records"]:
                found[int(item["seq"])] = Erasure(
                    int(seq),
                    bytes.fromhex(item["hash"]),
                    bytes.fromhex(item["body"]),
                    bytes.fromhex(item["digest"]),
                    str(facet["file"]) if archive else None,
                )
        except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
            continue  # not an event this store wrote: it vouches for nothing
    return found


_ARCHIVED_CACHE: dict[str, tuple[int, dict[int, str]]] = {}
_ARCHIVED_LOCK = threading.Lock()


def archived_records(conn: Connection) -> dict[int, str]:
    """The records whose bodies are in archive files now, with the file of each.  Read again
    only when a lifecycle event was appended since the last call on this database (one index
    probe otherwise): graph answers ask on every request."""
    e = s.events
    newest = conn.execute(
        sa.select(sa.func.max(e.c.seq)).where(
            e.c.job_name.in_((ERASURE_JOB, ARCHIVE_JOB)), e.c.job_namespace == ERASURE_NAMESPACE
        )
    ).scalar_one()
    if newest is None:
        return {}
    key = str(conn.engine.url)
    with _ARCHIVED_LOCK:
        cached = _ARCHIVED_CACHE.get(key)
        if cached is not None and cached[0] == newest:
            return cached[1]
    found = {seq: mark.archived_in for seq, mark in erasures(conn).items() if mark.archived_in}
    with _ARCHIVED_LOCK:
        _ARCHIVED_CACHE[key] = (int(newest), found)
    return found


def lifecycle_events(conn: Connection) -> list[dict[str, Any]]:
    """Every erasure and archive event of the log: when, by whom, under which rule and
    reason, and how many records it rewrote or moved (``threadline verify`` lists them)."""
    e = s.events
    rows = conn.execute(
        sa.select(e.c.seq, e.c.job_name, e.c.body)
        .where(e.c.job_name.in_((ERASURE_JOB, ARCHIVE_JOB)), e.c.job_namespace == ERASURE_NAMESPACE)
        .order_by(e.c.seq)
    )
    found = []
    for seq, job, body in rows:
        archive = job == ARCHIVE_JOB
        try:
            event = orjson.loads(s.as_bytes(body))
            facet = event["run"]["facets"][ARCHIVE_FACET if archive else ERASURE_FACET]
            found.append(
                {
                    "seq": int(seq),
                    "action": "archive" if archive else "erase",
                    "at": event["eventTime"],
                    "rule": facet.get("rule"),
                    "reason": facet.get("reason"),
                    "user": facet.get("user"),
                    "host": facet.get("host"),
                    "records": len(facet["records"]),
                    "first_record": min((int(r["seq"]) for r in facet["records"]), default=None),
                    "last_record": max((int(r["seq"]) for r in facet["records"]), default=None),
                    **({"file": facet.get("file")} if archive else {}),
                }
            )
        except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
            continue
    return found


def lifecycle_event(
    job: str, facet: str, schema: str, rule: str, reason: str, **fields: Any
) -> dict[str, Any]:
    """A RunEvent of a lifecycle change (erasure or archive): its run facet names the rule,
    its reason and who ran it, then ``fields``."""
    return {
        "eventType": "COMPLETE",
        "eventTime": now_iso(),
        "run": {
            "runId": str(uuid7()),
            "facets": {
                facet: {
                    "_producer": PRODUCER,
                    "_schemaURL": schema,
                    "rule": rule,
                    "reason": reason,
                    **operator(),
                    **fields,
                }
            },
        },
        "job": {"namespace": ERASURE_NAMESPACE, "name": job},
        "inputs": [],
        "outputs": [],
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
    }


def operator() -> dict[str, str]:
    """Who runs a lifecycle change, as its event records it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return {"user": user, "host": socket.gethostname()}


#: The indexed columns of ``tl_events`` that its body determines, which verify checks.
#: (``recorded_us`` is when the store took the event, in no body; ``seq``, ``prev_hash`` and
#: ``hash`` are the chain's, checked by the chain.)
INDEXED_COLUMNS = ("digest", "event_time_us", *s.EVENT_COLUMNS)


class LogAdmin:
    """Integrity operations over one store's tables.

    ``write_lock`` is the store's in-process writer lock and ``insert`` its dialect's
    ``insert`` construct (for ``ON CONFLICT``).
    """

    def __init__(
        self,
        read_engine: Engine,
        write_engine: Engine,
        write_lock: threading.Lock,
        insert: Callable[[sa.Table], Any],
    ) -> None:
        self._read = read_engine
        self._write = write_engine
        self._write_lock = write_lock
        self._insert = insert

    def iter_chain(self, page: int = 5000) -> Iterator[ChainRecord]:
        """Every record in log order, read in pages so memory stays bounded."""
        for r in self._rows(("body", "prev_hash", "hash"), page):
            yield ChainRecord(
                int(r.seq), s.as_bytes(r.body), s.as_bytes(r.prev_hash), s.as_bytes(r.hash)
            )

    def _rows(self, columns: tuple[str, ...], page: int = 5000) -> Iterator[Row[Any]]:
        """``seq`` and ``columns`` of every row of the log in order, read in pages."""
        after = 0
        cols = (s.events.c.seq, *(s.events.c[name] for name in columns))
        while True:
            with self._read.connect() as conn:
                rows = conn.execute(
                    sa.select(*cols)
                    .where(s.events.c.seq > after)
                    .order_by(s.events.c.seq)
                    .limit(page)
                ).all()
            if not rows:
                return
            yield from rows
            after = int(rows[-1].seq)

    def checkpoints(self) -> list[StoredCheckpoint]:
        """The stored Merkle checkpoints, smallest tree first."""
        t = s.checkpoints
        with self._read.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.tree_size, t.c.root, t.c.created_us).order_by(t.c.tree_size)
            ).all()
        return [StoredCheckpoint(int(size), s.as_bytes(root), int(at)) for size, root, at in rows]

    def verify(self) -> LogReport:
        """Check every record's link and canonical body, the indexed columns the queries read
        against that body (:data:`INDEXED_COLUMNS`), and the Merkle root at every stored
        checkpoint (which catches a cut-off tail or a log rewritten from its start)."""
        return self._verify(self.checkpoints())

    def _verify(self, stored: list[StoredCheckpoint]) -> LogReport:
        # The chain alone passes a row whose indexed columns were edited, and the queries,
        # which read those columns, would answer from the forged values.  The first row whose
        # columns disagree with its body is a break too; whichever break comes first is named
        # (a Merkle mismatch names the first record it cannot vouch for, which may be earlier).
        sizes = {c.tree_size: c.root for c in stored}
        with self._read.connect() as conn:
            erased = erasures(conn)
        column: LogReport | None = None
        accumulator = merkle.MerkleAccumulator()
        head = GENESIS

        def checked() -> Iterator[ChainRecord]:
            nonlocal column, head
            for row in self._rows(("body", "prev_hash", "hash", *INDEXED_COLUMNS)):
                record = ChainRecord(
                    int(row.seq),
                    s.as_bytes(row.body),
                    s.as_bytes(row.prev_hash),
                    s.as_bytes(row.hash),
                )
                erasure = erased.get(record.seq)
                if erasure is not None and erasure.archived_in and not record.body:
                    # The body is in the archive: ``verify --deep`` checks the columns there.
                    reason = None
                elif column is None:
                    reason = column_mismatch(
                        row, record.body, erasure.digest if erasure is not None else None
                    )
                else:
                    reason = None
                if column is None:
                    if reason is not None:
                        matched = sum(1 for size in sizes if 0 < size < record.seq)
                        column = LogReport(
                            accumulator.size,
                            head,
                            ChainBreak(record.seq, reason),
                            matched,
                            accumulator.root(),
                        )
                    else:
                        accumulator.append(leaf(record))
                        head = record.hash
                yield record

        report = verify_log(checked(), sizes, erased=erased)
        if column is None or column.first_break is None:
            return report
        if report.first_break is not None and report.first_break.seq <= column.first_break.seq:
            return report
        return column

    def checkpoint(self) -> StoredCheckpoint | None:
        """Verify the log, then record its size and Merkle root; None if the log is empty.

        A checkpoint vouches only for a log that verifies, so a failure raises
        :class:`~threadline.errors.IntegrityError` and stores nothing.  This reads the whole
        log; later :meth:`verify` calls recompute the root at this size and compare.  With no
        event appended since the last checkpoint, that one is returned.
        """
        stored = self.checkpoints()
        report = self._verify(stored)
        if not report.ok:
            assert report.first_break is not None
            raise IntegrityError(
                f"the log fails verification at record {report.first_break.seq}: "
                f"{report.first_break.reason}; no checkpoint taken (run threadline verify)"
            )
        if report.records == 0:
            return None
        for known in stored:
            if known.tree_size == report.records:
                return known
        taken = StoredCheckpoint(report.records, report.root, time.time_ns() // 1000)
        t = s.checkpoints
        # A concurrent checkpoint of the same size has the same root (both verified it).
        stmt = self._insert(t).on_conflict_do_nothing(index_elements=["tree_size"])
        with self._write_lock, self._write.begin() as conn:
            conn.execute(
                stmt.values(tree_size=taken.tree_size, root=taken.root, created_us=taken.created_us)
            )
        return taken


def column_mismatch(row: Row[Any], body: bytes, digest: bytes | None = None) -> str | None:
    """Which indexed column of ``row`` disagrees with ``body`` (and how), or None.  An erased
    record's ``digest`` column keeps its original event's digest, which its erasure event
    committed to (``digest``), not the digest of the body it now holds."""
    if s.as_bytes(row.digest) != (digest or blake3.blake3(body).digest()):
        return (
            f"indexed column digest ({s.as_bytes(row.digest).hex()[:16]}…) does not match "
            "the record's body"
        )
    try:
        event = orjson.loads(body)
        expected = dict(
            zip(
                ("event_time_us", *s.EVENT_COLUMNS),
                (to_micros(event["eventTime"]), *s.event_columns(event)),
                strict=True,
            )
        )
    except orjson.JSONDecodeError:
        return None  # the chain names a body that no longer parses
    except (KeyError, TypeError, ValueError, InvalidEvent) as exc:
        return f"the record's body gives no indexed columns ({exc})"
    for name, value in expected.items():
        stored = getattr(row, name)
        if stored != value:
            return (
                f"indexed column {name} ({stored!r}) does not match the record's body ({value!r})"
            )
    return None


#: Characters an origin keeps as they are; anything else (spaces, "+", …) is %-escaped.
_ORIGIN_SAFE = "/:@._-~"


def default_origin(url: str) -> str:
    """A name for the log at ``url`` when none is given: ``host/path/of/lineage.db`` for an
    SQLite file, ``host:port/database`` for a server; never a user name or password."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        raw = socket.gethostname() + "/" + str(Path(parsed.database or "").resolve()).lstrip("/")
    else:
        port = f":{parsed.port}" if parsed.port else ""
        raw = f"{parsed.host or 'localhost'}{port}/{parsed.database or ''}"
    return urllib.parse.quote(raw, safe=_ORIGIN_SAFE) or "threadline"


def leaf_hashes(store: Store, limit: int | None = None, page: int = 50_000) -> list[bytes]:
    """The Merkle leaf hash of every record (of the first ``limit``), in log order: 32 bytes
    a record, what a proof over the whole log needs in memory.

    Only the ``hash`` column is read (not the bodies): the leaves are the chain hashes, and
    whether those still match the bodies is the chain's check (:meth:`LogAdmin.verify`).
    """
    t = s.events
    leaves: list[bytes] = []
    after = 0
    while limit is None or len(leaves) < limit:
        size = page if limit is None else min(page, limit - len(leaves))
        query = sa.select(t.c.seq, t.c.hash).where(t.c.seq > after).order_by(t.c.seq).limit(size)
        rows = store.read(functools.partial(_all_rows, query))
        if not rows:
            break
        leaves.extend(merkle.leaf_hash(s.as_bytes(row.hash)) for row in rows)
        after = int(rows[-1].seq)
    return leaves


def _all_rows(query: sa.Select[Any], conn: sa.Connection) -> list[Row[Any]]:
    return list(conn.execute(query).all())


def audit_checkpoint(store: Store, size: int, root: bytes) -> tuple[int, list[str]]:
    """The log's size and what is wrong with it against a checkpoint the verifier trusts
    (signed, kept outside the store) of ``size`` records with Merkle root ``root``.

    The log must extend that tree (an RFC 9162 consistency proof from ``size`` to today's size,
    checked against the trusted root: a cut tail or a rewritten or re-linked chain fails it),
    and the store's own checkpoint row for ``size`` must still be there with that root (the
    operator can delete or rewrite rows, which the plain ``verify`` has to trust).
    """
    if not isinstance(store, IntegrityAdmin):
        raise UsageError(f"store {store.safe_url} keeps no checkpoints (its backend has no admin)")
    leaves = leaf_hashes(store)
    findings: list[str] = []
    reason = consistency_failure(size, root, leaves)
    if reason is not None:
        findings.append(reason)
    stored = {c.tree_size: c.root for c in store.checkpoints()}
    if size not in stored:
        findings.append(f"the store's checkpoint row for size {size} is missing: it was deleted")
    elif stored[size] != root:
        findings.append(
            f"the store's checkpoint row for size {size} holds another root than the signed "
            "checkpoint: it was forged"
        )
    return len(leaves), findings


@dataclass(frozen=True, slots=True)
class Inclusion:
    """One record and its RFC 9162 audit path in the tree of the first ``tree_size`` records."""

    leaf_index: int
    seq: int
    body: bytes
    prev_hash: bytes
    audit_path: list[bytes]
    tree_size: int
    root: bytes
    """The root the path leads to, computed from the store (check it against a signed one)."""


def find_seq(store: Store, *, seq: int | None = None, digest: bytes | None = None) -> int:
    """The ``seq`` of the record with that seq or that event digest (BLAKE3 of its body)."""
    t = s.events
    where = t.c.seq == seq if seq is not None else t.c.digest == digest
    found = store.read(lambda conn: conn.execute(sa.select(t.c.seq).where(where)).first())
    if found is None:
        what = f"seq {seq}" if seq is not None else f"digest b3:{(digest or b'').hex()}"
        raise NotFound(f"the log holds no record with {what}")
    return int(found.seq)


def inclusion(store: Store, seq: int, tree_size: int) -> Inclusion:
    """The audit path of record ``seq`` in the tree of the first ``tree_size`` records.

    The leaves are read from the ``hash`` column (:func:`leaf_hashes`); the proof carries the
    record's body and previous hash, from which a verifier recomputes its leaf, so a body
    that no longer matches its stored hash gives a proof that fails.
    """
    t = s.events

    def target(conn: sa.Connection) -> tuple[int, Any, Erasure | None]:
        before = conn.execute(sa.select(sa.func.count()).where(t.c.seq < seq)).scalar()
        row = conn.execute(sa.select(t.c.body, t.c.prev_hash).where(t.c.seq == seq)).first()
        return int(before or 0), row, erasures(conn).get(seq)

    index, row, erasure = store.read(target)
    if erasure is not None:
        raise NotFound(
            f"record {seq} was erased by record {erasure.by} (a lifecycle delete rule): the "
            "body it was appended with is gone, so no proof of that body can be given; "
            f"threadline prove {erasure.by} proves the erasure itself"
        )
    leaves = leaf_hashes(store, tree_size)
    if len(leaves) < tree_size:
        raise IntegrityError(
            f"the log holds {len(leaves)} records, fewer than the checkpoint's {tree_size}: "
            "it was cut (run threadline verify --checkpoint)"
        )
    if row is None or index >= tree_size:
        raise NotFound(
            f"record {seq} is not among the checkpoint's first {tree_size} records; take a "
            "newer checkpoint (threadline checkpoint) and prove it against that"
        )
    return Inclusion(
        index,
        seq,
        s.as_bytes(row.body),
        s.as_bytes(row.prev_hash),
        merkle.inclusion_proof(leaves, index),
        tree_size,
        merkle.root(leaves),
    )


__all__ = [
    "INDEXED_COLUMNS",
    "Inclusion",
    "LogAdmin",
    "audit_checkpoint",
    "column_mismatch",
    "default_origin",
    "find_seq",
    "inclusion",
    "leaf_hashes",
]
