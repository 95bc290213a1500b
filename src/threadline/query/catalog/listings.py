"""The catalog listings, each answered from one snapshot of the store (see
:mod:`threadline.query.catalog`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import NotFound, UsageError
from threadline.query.catalog.reads import (
    NEWEST_FIRST,
    RUN_COLUMNS,
    created_by,
    datasets_of,
    find_node,
    jobs_of,
    nodes_by_id,
    page_of_nodes,
    page_of_versions,
    require_node,
    require_version,
    runs_of,
)
from threadline.query.catalog.rows import (
    Dataset,
    DatasetVersion,
    Job,
    Namespace,
    NodeLineage,
    Page,
    Run,
)
from threadline.query.graph import walk_nodes
from threadline.query.reading import read
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

#: Rows listed when no ``limit`` is given.
DEFAULT_LIMIT: Final = 100

_n, _v, _r = s.nodes, s.versions, s.runs

_NAMESPACES = sa.select(
    _n.c.namespace, sa.func.min(_n.c.first_seen_us), sa.func.max(_n.c.updated_us)
).group_by(_n.c.namespace)


def namespaces(store: Store, *, limit: int = DEFAULT_LIMIT, offset: int = 0) -> Page[Namespace]:
    """Namespaces by name."""

    def query(conn: Connection) -> Page[Namespace]:
        total = int(
            conn.execute(
                sa.select(sa.func.count(sa.distinct(_n.c.namespace))).select_from(_n)
            ).scalar_one()
        )
        stmt = _NAMESPACES.order_by(_n.c.namespace).limit(limit).offset(offset)
        return Page(total, [Namespace(*row) for row in conn.execute(stmt)])

    return read(store, query)


def namespace(store: Store, name: str) -> Namespace:
    """The namespace ``name``; :class:`NotFound` when no node lives in it."""

    def query(conn: Connection) -> Namespace:
        row = conn.execute(_NAMESPACES.where(_n.c.namespace == name)).first()
        if row is None:
            raise NotFound(f"no namespace {name!r}")
        return Namespace(*row)

    return read(store, query)


def datasets(
    store: Store, namespace: str | None = None, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> Page[Dataset]:
    """Datasets of ``namespace`` by name (of every namespace, by namespace and name)."""

    def query(conn: Connection) -> Page[Dataset]:
        nodes, total = page_of_nodes(conn, "dataset", namespace, limit, offset)
        return Page(total, datasets_of(conn, nodes))

    return read(store, query)


def dataset(store: Store, namespace: str, name: str) -> Dataset:
    """The dataset ``name`` of ``namespace``; :class:`NotFound` if not recorded."""
    return read(
        store,
        lambda conn: datasets_of(conn, [require_node(conn, "dataset", namespace, name)])[0],
    )


def dataset_versions(
    store: Store, namespace: str, name: str, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> Page[DatasetVersion]:
    """Versions of one dataset, newest first (first seen, then row id)."""

    def query(conn: Connection) -> Page[DatasetVersion]:
        node = require_node(conn, "dataset", namespace, name)
        versions, total = page_of_versions(conn, node, limit, offset)
        created = created_by(conn, [v.id for v in versions])
        return Page(total, [DatasetVersion(node, v, created.get(v.id)) for v in versions])

    return read(store, query)


def dataset_version(store: Store, namespace: str, name: str, version: str) -> DatasetVersion:
    """One version of a dataset by its version token, with the run that wrote it;
    :class:`NotFound` naming what is missing."""

    def query(conn: Connection) -> DatasetVersion:
        node = require_node(conn, "dataset", namespace, name)
        found = require_version(conn, node, version)
        return DatasetVersion(node, found, created_by(conn, [found.id]).get(found.id))

    return read(store, query)


def jobs(
    store: Store, namespace: str | None = None, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> Page[Job]:
    """Jobs of ``namespace`` by name (of every namespace, by namespace and name)."""

    def query(conn: Connection) -> Page[Job]:
        nodes, total = page_of_nodes(conn, "job", namespace, limit, offset)
        return Page(total, jobs_of(conn, nodes))

    return read(store, query)


def job(store: Store, namespace: str, name: str) -> Job:
    """The job ``name`` of ``namespace``; :class:`NotFound` if not recorded."""
    return read(store, lambda conn: jobs_of(conn, [require_node(conn, "job", namespace, name)])[0])


def runs(
    store: Store,
    namespace: str | None = None,
    job: str | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
) -> Page[Run]:
    """Runs, latest activity first: of the job ``job`` of ``namespace``, of every job of
    ``namespace``, or of every job.  :class:`NotFound` when the job is not recorded."""
    if job is not None and namespace is None:
        raise UsageError(f"which namespace is job {job!r} in? (pass the namespace too)")

    def query(conn: Connection) -> Page[Run]:
        where: sa.ColumnElement[bool] | None = None
        if job is not None and namespace is not None:
            where = _r.c.job_node_id == require_node(conn, "job", namespace, job).id
        elif namespace is not None:
            in_namespace = sa.select(_n.c.id).where(_n.c.type == "job", _n.c.namespace == namespace)
            where = _r.c.job_node_id.in_(in_namespace)
        count = sa.select(sa.func.count()).select_from(_r)
        stmt = sa.select(*RUN_COLUMNS)
        if where is not None:
            count, stmt = count.where(where), stmt.where(where)
        total = int(conn.execute(count).scalar_one())
        rows = conn.execute(stmt.order_by(*NEWEST_FIRST).limit(limit).offset(offset)).all()
        return Page(total, runs_of(conn, rows))

    return read(store, query)


def run(store: Store, run_id: str) -> Run:
    """The run ``run_id``; :class:`NotFound` if not recorded."""

    def query(conn: Connection) -> Run:
        row = conn.execute(sa.select(*RUN_COLUMNS).where(_r.c.run_id == run_id)).first()
        if row is None:
            raise NotFound(f"no run {run_id!r}")
        return runs_of(conn, [row])[0]

    return read(store, query)


def node_lineage(
    store: Store, type_: str, names: Iterable[tuple[str, str]], depth: int
) -> NodeLineage | None:
    """Every dataset and job connected to the node, upstream and downstream, up to ``depth``
    job hops (a walk of at most ``2 * depth + 1`` edges), at node level (all versions of a node
    are one vertex).  The node is the first of ``names`` (``(namespace, name)`` pairs) that is
    recorded as a ``type_`` node; ``None`` when none is."""

    def query(conn: Connection) -> NodeLineage | None:
        start = next(
            (
                node
                for namespace, name in names
                if (node := find_node(conn, type_, namespace, name)) is not None
            ),
            None,
        )
        if start is None:
            return None
        reached = walk_nodes(conn, start.id, depth=2 * depth + 1)
        nodes = nodes_by_id(conn, sorted(reached.order))
        return NodeLineage(
            start=start,
            datasets=datasets_of(conn, [n for n in nodes.values() if n.type == "dataset"]),
            jobs=jobs_of(conn, [n for n in nodes.values() if n.type == "job"]),
            edges=reached.edges,
        )

    return read(store, query)


def newest_seq(store: Store) -> int:
    """The newest sequence number in the log (0 when it is empty)."""
    # Not through read(): the change stream polls this and logs a failure itself.
    value = store.read(
        lambda conn: conn.execute(sa.select(sa.func.max(s.events.c.seq))).scalar(), graph=False
    )
    return int(value or 0)


__all__ = [
    "DEFAULT_LIMIT",
    "dataset",
    "dataset_version",
    "dataset_versions",
    "datasets",
    "job",
    "jobs",
    "namespace",
    "namespaces",
    "newest_seq",
    "node_lineage",
    "run",
    "runs",
]
