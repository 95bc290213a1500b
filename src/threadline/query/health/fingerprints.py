"""Broken fingerprints: recorded local files whose bytes are no longer what was recorded.

For every file or folder node of this machine (``file://HOST``) whose newest version is a
content fingerprint (``b3:``), the file is fingerprinted again (an unchanged file is answered
from the fingerprint cache by its stat alone):

* ``file_missing`` (warn): the file is gone;
* ``file_changed`` (error): its bytes no longer match its newest recorded version: something
  wrote it without threadline seeing, so what is downstream of it cannot be reproduced from it;
* ``prediction_origin_gone`` (warn): the newest version of a prediction batch was computed from
  files of this machine (the model, the scored data) whose recorded bytes are no longer there:
  the file is gone, or holds other bytes now (a retrained model saved over it).  The
  predictions can no longer be reproduced or explained from what is on disk.

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


# The files of this machine that the newest version of each prediction batch was computed from,
# with the version of each that the scoring run read.
_PREDICTION_ORIGINS: Final = sa.text("""
WITH newest AS (
    SELECT v.node_id, MAX(v.first_seen_us) AS seen FROM tl_versions v
    JOIN tl_nodes n ON n.id = v.node_id
    WHERE n.type = 'dataset' AND n.kind = 'predictions'
    GROUP BY v.node_id
)
SELECT DISTINCT p.id, p.kind, p.namespace, p.name, pv.version,
       src.kind AS origin_kind, src.name AS origin_name, sv.version AS origin_version
FROM newest
JOIN tl_nodes p ON p.id = newest.node_id
JOIN tl_versions pv ON pv.node_id = p.id AND pv.first_seen_us = newest.seen
JOIN tl_edges o ON o.dst = pv.id AND o.relation = 'output'
JOIN tl_edges i ON i.dst = o.src AND i.relation = 'input'
JOIN tl_versions sv ON sv.id = i.src
JOIN tl_nodes src ON src.id = sv.node_id
WHERE src.type = 'dataset' AND src.namespace = :namespace
ORDER BY p.id, src.name
""")


def _now_holds(path: str, version: str) -> str:
    """``same``, ``gone`` or ``changed``: what ``path`` holds now against ``version``."""
    if not os.path.lexists(path):
        return "gone"
    try:
        return "same" if fingerprint_path(path) == version else "changed"
    except (ThreadlineError, OSError):
        return "gone"  # unreadable: not there for anyone to reproduce from


def prediction_origins_gone(conn: Connection, ctx: HealthContext) -> list[Draft]:
    lost: dict[int, tuple[NodeRow, str, list[dict[str, str]]]] = {}
    for row in conn.execute(_PREDICTION_ORIGINS, {"namespace": f"file://{local_host()}"}):
        origin_version = str(row.origin_version)
        if not origin_version.startswith("b3:"):
            continue
        state = _now_holds(str(row.origin_name), origin_version)
        if state == "same":
            continue
        node = NodeRow(int(row.id), str(row.kind), str(row.namespace), str(row.name))
        entry = lost.setdefault(node.id, (node, str(row.version), []))
        entry[2].append(
            {
                "kind": str(row.origin_kind),
                "path": str(row.origin_name),
                "version": origin_version,
                "now": state,
            }
        )
    found = []
    for node, version, origins in lost.values():
        listed = ", ".join(f"{o['kind']} {o['path']} ({o['now']})" for o in origins[:3])
        more = f" and {len(origins) - 3} more" if len(origins) > 3 else ""
        found.append(
            Draft(
                node,
                "prediction_origin_gone",
                "warn",
                f"computed from files no longer as recorded: {listed}{more}",
                "keep the model and data a prediction batch was made from (archive them, or "
                "version them under another name) while the predictions are in use",
                version=version,
                details={"origins": origins},
            )
        )
    return found


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


CHECKS: Final = (broken_fingerprints, prediction_origins_gone)

__all__ = ["CHECKS", "broken_fingerprints", "prediction_origins_gone"]
