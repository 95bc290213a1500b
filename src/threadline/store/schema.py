"""One SQLAlchemy Core schema for SQLite and PostgreSQL.

``tl_events`` is the source of truth: the canonical body of every event with its place in the
hash chain.  Every other table is derived from it (``threadline rebuild`` could recreate them)
and exists so that questions are answered by index lookups, not by replaying the log.

The graph is bipartite in spirit but stored uniformly: a *vertex* is a row of ``tl_versions``;
dataset/model/feature versions and job executions are both versions (an execution is a version
of its job node), and ``tl_edges`` links them (``input``: version → execution, ``output``:
execution → version, ``derived``: version → version).

Names, namespaces and versions are stored whole, however long (a ``datasetVersion`` can be a
500 kB string), and never indexed whole: a PostgreSQL btree refuses an entry over about 2.7 kB.
Uniqueness is kept on a BLAKE3 digest of the identity instead (:func:`node_identity`,
:func:`version_digest`), and the text lookups by name use hash indexes on PostgreSQL (which
store a 4-byte hash of any length of text); SQLite, which has no entry limit, keeps btrees.
"""

from __future__ import annotations

from typing import Any, Final

import blake3
import sqlalchemy as sa

#: Bump with a migration in :mod:`threadline.store.migrations`.
SCHEMA_VERSION: Final = 6

metadata = sa.MetaData()

# SQLite only aliases ROWID (and so auto-increments cheaply) for a plain INTEGER primary key.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

meta = sa.Table(
    "tl_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: ``tl_meta`` keys: the derived graph's generation, changed by every rebuild (writers drop
#: cached row ids when it changes), and, while set, the log sequence number after which the
#: graph is known stale (an erasure rewrote bodies and its rebuild has not finished).
GRAPH_EPOCH: Final = "graph_epoch"
GRAPH_STALE: Final = "graph_stale"
#: ``tl_meta`` key: the log sequence number the graph tables reflect every record up to
#: (appends are acknowledged before they are projected: :mod:`threadline.store.projector`).
GRAPH_PROJECTED: Final = "graph_projected_seq"

# Built once: set_meta runs with every projected page.
_UPDATE_META: Final = (
    sa.update(meta)
    .where(meta.c.key == sa.bindparam("meta_key"))
    .values(value=sa.bindparam("meta_value"))
)
_INSERT_META: Final = sa.insert(meta).values(
    key=sa.bindparam("meta_key"), value=sa.bindparam("meta_value")
)


def set_meta(conn: sa.Connection, key: str, value: str) -> None:
    """Set one ``tl_meta`` key in the caller's transaction, whether or not it exists yet."""
    values = {"meta_key": key, "meta_value": value}
    if not conn.execute(_UPDATE_META, values).rowcount:
        conn.execute(_INSERT_META, values)


migrations = sa.Table(
    "tl_migrations",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("applied_us", sa.BigInteger, nullable=False),
)

events = sa.Table(
    "tl_events",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    # BLAKE3 of the canonical body: the same event sent twice is stored once (see below).
    sa.Column("digest", sa.LargeBinary(32), nullable=False),
    sa.Column("event_kind", sa.String(8), nullable=False),  # run | dataset | job
    sa.Column("event_type", sa.String(16)),
    sa.Column("event_time_us", sa.BigInteger, nullable=False),
    sa.Column("recorded_us", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("job_namespace", sa.Text),
    sa.Column("job_name", sa.Text),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
    # The digest fixes the body and so the event time: unique (time, digest) is unique digest.
    # Led by the time, new keys land at the right edge of the index instead of on a random
    # leaf each, so a batch dirties a few index pages rather than one per event (revision 2).
    sa.UniqueConstraint("event_time_us", "digest", name="tl_events_identity"),
)
# No index by run id (dropped in revision 6): run ids are mostly random (UUIDv4), so each
# appended event landed on a random leaf of such an index, and every batch's commit wrote
# most of its pages again (in bench_server's bursts, ~8 us of the server's 35-40 us an event).
# A run's events are found through its projected row instead (tl_runs: job, first and last
# sequence numbers).
# By name alone (a job's name is selective; the namespace is checked on the rows found): a
# hash index holds any length of name (revision 4).
EVENTS_JOB_INDEX: Final = sa.Index("tl_events_job", events.c.job_name)  # hash on PostgreSQL

#: The columns of ``tl_events`` that :func:`event_columns` derives from an event's body.
EVENT_COLUMNS: Final = ("event_kind", "event_type", "run_id", "job_namespace", "job_name")


def event_columns(event: dict[str, Any]) -> tuple[Any, ...]:
    """The indexed columns of an event's row (:data:`EVENT_COLUMNS`, in that order): written
    on append, and checked against the body by ``threadline verify``."""
    run = event.get("run")
    job = event.get("job")
    if not isinstance(job, dict):
        # Only a dataset event may lack a job object (the structural check says so for the
        # others): a custom field of that name, of another type, stays in the body alone.
        job = None
    if run is not None:
        kind, run_id = "run", str(run["runId"])
        event_type = event.get("eventType")  # checked against EVENT_TYPES on a RunEvent
    else:
        # The spec gives job and dataset events no eventType: one sent anyway is a custom
        # field, kept in the body whatever its type, not an indexed column.
        kind, run_id = ("dataset" if "dataset" in event else "job"), None
        event_type = None
    return (
        kind,
        event_type,
        run_id,
        job.get("namespace") if job else None,
        job.get("name") if job else None,
    )


nodes = sa.Table(
    "tl_nodes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(8), nullable=False),  # dataset | job
    sa.Column("namespace", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # artifact kind, or "job"
    sa.Column("facets", sa.Text, nullable=False, default="{}"),
    sa.Column("first_seen_us", sa.BigInteger, nullable=False),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
    # node_identity(type, namespace, name): the natural key, as a digest (revision 4).
    sa.Column("identity", sa.LargeBinary(32), nullable=False),
    sa.UniqueConstraint("identity", name="tl_nodes_identity"),
)
NODES_NAME_INDEX: Final = sa.Index("tl_nodes_name", nodes.c.name)  # hash on PostgreSQL

versions = sa.Table(
    "tl_versions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("node_id", sa.BigInteger, sa.ForeignKey("tl_nodes.id"), nullable=False),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("facets", sa.Text, nullable=False, default="{}"),
    sa.Column("first_seen_us", sa.BigInteger, nullable=False),
    sa.Column("last_seen_us", sa.BigInteger, nullable=False),
    sa.Column("first_seq", sa.BigInteger, nullable=False),
    # version_digest(version): the natural key is (node_id, version), as a digest (revision 4).
    sa.Column("version_digest", sa.LargeBinary(32), nullable=False),
    sa.UniqueConstraint("node_id", "version_digest", name="tl_versions_identity"),
)
sa.Index("tl_versions_node_time", versions.c.node_id, versions.c.first_seen_us)

edges = sa.Table(
    "tl_edges",
    metadata,
    sa.Column("src", sa.BigInteger, nullable=False),
    sa.Column("dst", sa.BigInteger, nullable=False),
    sa.Column("relation", sa.String(8), nullable=False),  # input | output | derived
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("first_seq", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("src", "dst", "relation", name="tl_edges_pk"),
)
sa.Index("tl_edges_dst", edges.c.dst, edges.c.src)

runs = sa.Table(
    "tl_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("job_node_id", sa.BigInteger, nullable=False),
    # The execution this run is an occurrence of (a tl_versions row of the job node).
    sa.Column("execution_id", sa.BigInteger),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_rank", sa.Integer, nullable=False),
    sa.Column("state_time_us", sa.BigInteger, nullable=False),
    sa.Column("started_us", sa.BigInteger),
    sa.Column("ended_us", sa.BigInteger),
    sa.Column("parent_run_id", sa.String(64)),
    sa.Column("facets", sa.Text, nullable=False, default="{}"),
    sa.Column("first_seq", sa.BigInteger, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)
sa.Index("tl_runs_execution", runs.c.execution_id)
sa.Index("tl_runs_job", runs.c.job_node_id, runs.c.started_us)
#: The runs not ended yet (START, RUNNING or unknown: rank below COMPLETE/FAIL/ABORT's 3), a
#: few rows however large the store, for finding runs whose process died (revision 3).
OPEN_RUN: Final = runs.c.state_rank < 3
OPEN_RUNS_INDEX: Final = sa.Index("tl_runs_open", runs.c.state_rank, sqlite_where=OPEN_RUN)


def use_postgresql_index_options() -> None:
    """Give three indexes their PostgreSQL forms: hash indexes of names (which hold a name of
    any length) and the partial index of open runs.

    ``postgresql_using=`` and ``postgresql_where=`` in the definitions above would do the same,
    but naming a dialect's option loads that dialect: ~25 ms of CPU in every process that only
    ever opens SQLite (each writer agent, each CLI command).  A PostgreSQL store calls this
    before it creates or migrates the schema; calling it again changes nothing.
    """
    EVENTS_JOB_INDEX.dialect_options["postgresql"]["using"] = "hash"
    NODES_NAME_INDEX.dialect_options["postgresql"]["using"] = "hash"
    OPEN_RUNS_INDEX.dialect_options["postgresql"]["where"] = OPEN_RUN


checkpoints = sa.Table(
    "tl_checkpoints",
    metadata,
    sa.Column("tree_size", sa.BigInteger, primary_key=True),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("key_id", sa.String(32)),
    sa.Column("signature", sa.LargeBinary),
)


def _utf8(text: str) -> bytes:
    # surrogatepass: a lone surrogate some importer let through still has one digest.
    return text.encode("utf-8", "surrogatepass")


def node_identity(type_: str, namespace: str, name: str) -> bytes:
    """The BLAKE3 digest ``tl_nodes.identity`` holds for a node: each part length-prefixed, so
    no two different triples share an encoding."""
    hasher = blake3.blake3()
    for part in (type_, namespace, name):
        data = _utf8(part)
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.digest()


def version_digest(version: str) -> bytes:
    """The BLAKE3 digest ``tl_versions.version_digest`` holds for a version token."""
    return blake3.blake3(_utf8(version)).digest()


def as_bytes(value: Any) -> bytes:
    """A binary column's value as bytes; a value someone rewrote as text compares as its UTF-8."""
    return value.encode() if isinstance(value, str) else bytes(value)
