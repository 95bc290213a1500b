"""Old schema shapes for migration tests, made from a store the current code created."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa

from threadline.store import schema as s
from threadline.store.sql import SqlStore

#: PostgreSQL statements that take a current store back to the shape revision 3 left:
#: natural keys unique on the text itself, btree indexes on names, the log indexed by run id.
PG_BACK_TO_REVISION_3: Final = (
    "CREATE INDEX tl_events_run ON tl_events (run_id)",
    "ALTER TABLE tl_nodes DROP CONSTRAINT tl_nodes_identity",
    "ALTER TABLE tl_nodes DROP COLUMN identity",
    "ALTER TABLE tl_nodes ADD CONSTRAINT tl_nodes_identity UNIQUE (type, namespace, name)",
    "DROP INDEX tl_nodes_name",
    "CREATE INDEX tl_nodes_name ON tl_nodes (name)",
    "ALTER TABLE tl_versions DROP CONSTRAINT tl_versions_identity",
    "ALTER TABLE tl_versions DROP COLUMN version_digest",
    "ALTER TABLE tl_versions ADD CONSTRAINT tl_versions_identity UNIQUE (node_id, version)",
    "DROP INDEX tl_events_job",
    "CREATE INDEX tl_events_job ON tl_events (job_namespace, job_name)",
)


def assert_identity_digests(store: SqlStore) -> None:
    """Every node and version row carries the digest of its natural key (revision 4)."""

    def rows(conn: sa.Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        n, v = s.nodes, s.versions
        nodes = conn.execute(sa.select(n.c.type, n.c.namespace, n.c.name, n.c.identity)).all()
        versions = conn.execute(sa.select(v.c.version, v.c.version_digest)).all()
        return [tuple(r) for r in nodes], [tuple(r) for r in versions]

    nodes, versions = store.read(rows)
    assert nodes
    assert [bytes(r[3]) for r in nodes] == [s.node_identity(r[0], r[1], r[2]) for r in nodes]
    assert [bytes(r[1]) for r in versions] == [s.version_digest(r[0]) for r in versions]
