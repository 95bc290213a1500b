"""Broken fingerprints: recorded local files whose bytes are no longer what was recorded.

For every file or folder node of this machine (``file://HOST``) whose newest version is a
content fingerprint (``b3:``), the file is fingerprinted again (an unchanged file is answered
from the fingerprint cache by its stat alone):

* ``file_missing`` (warn): the file is gone;
* ``file_changed`` (error): its bytes no longer match its newest recorded version: something
  wrote it without threadline seeing, so what is downstream of it cannot be reproduced from it.

Files on other machines cannot be checked here; run the check there.
"""

from __future__ import annotations

import os
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import ThreadlineError
from threadline.fingerprint.files import fingerprint_path
from threadline.model.ids import local_host
from threadline.query.health.context import Draft, HealthContext, NodeRow

_LOCAL_FILES: Final = sa.text("""
WITH newest AS (
    SELECT v.node_id, MAX(v.first_seen_us) AS seen FROM tl_versions v
    JOIN tl_nodes n ON n.id = v.node_id
    WHERE n.type = 'dataset' AND n.namespace = :namespace
    GROUP BY v.node_id
)
SELECT n.id, n.kind, n.namespace, n.name, v.id AS version_id, v.version
FROM newest
JOIN tl_nodes n ON n.id = newest.node_id
JOIN tl_versions v ON v.node_id = newest.node_id AND v.first_seen_us = newest.seen
ORDER BY n.id, v.id
""")


def broken_fingerprints(conn: Connection, ctx: HealthContext) -> list[Draft]:
    newest: dict[int, tuple[NodeRow, str]] = {}
    for row in conn.execute(_LOCAL_FILES, {"namespace": f"file://{local_host()}"}):
        # Ordered by version id: a tie in time keeps the version recorded last.
        newest[int(row.id)] = (
            NodeRow(int(row.id), str(row.kind), str(row.namespace), str(row.name)),
            str(row.version),
        )
    found = []
    for node, version in newest.values():
        if not version.startswith("b3:"):
            continue
        if not os.path.lexists(node.name):
            found.append(
                Draft(
                    node,
                    "file_missing",
                    "warn",
                    f"the file is gone: {node.name}",
                    "restore it from its source (threadline trace shows the run that wrote it), "
                    "or accept that what is downstream of it cannot be re-run",
                    version=version,
                )
            )
            continue
        try:
            current = fingerprint_path(node.name)
        except (ThreadlineError, OSError) as exc:
            found.append(
                Draft(
                    node,
                    "file_unreadable",
                    "warn",
                    f"cannot fingerprint {node.name}: {exc}",
                    "make the file readable to the user running the health check",
                    version=version,
                )
            )
            continue
        if current != version:
            found.append(
                Draft(
                    node,
                    "file_changed",
                    "error",
                    f"its bytes no longer match its newest recorded version (now {current[:15]})",
                    "re-run the step that writes it under threadline, or restore the recorded "
                    "version",
                    version=version,
                    details={"current": current},
                )
            )
    return found


CHECKS: Final = (broken_fingerprints,)

__all__ = ["CHECKS", "broken_fingerprints"]
