"""Staleness: a live deployment whose model was trained on data that has newer versions.

From the model versions each live deployment serves, the check walks up through the runs that
wrote them, across models copied or converted from other models (file → registry), to the data
the training run read; for each such data version it counts the newer versions of the same
dataset and how much newer the newest is.  The walk is breadth-first over every deployment at
once, one statement per step and chunk, never one per node.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Final

from sqlalchemy.engine import Connection

from threadline.query.health.context import Draft, HealthContext, days, rows_for
from threadline.query.health.orphans import live_deployments

#: Model-to-model steps followed up from a deployment (file → registry copies are one each).
MAX_MODEL_STEPS: Final = 8

_INPUTS_OF_WRITERS: Final = """
SELECT o.dst, iv.id, inn.kind FROM tl_edges o
JOIN tl_edges i ON i.dst = o.src AND i.relation = 'input'
JOIN tl_versions iv ON iv.id = i.src
JOIN tl_nodes inn ON inn.id = iv.node_id
WHERE o.relation = 'output' AND o.dst IN :ids
UNION
SELECT d.dst, iv.id, inn.kind FROM tl_edges d
JOIN tl_versions iv ON iv.id = d.src
JOIN tl_nodes inn ON inn.id = iv.node_id
WHERE d.relation = 'derived' AND d.dst IN :ids
"""

_NEWER: Final = """
SELECT v.id, n.namespace, n.name, v.version, v.first_seen_us,
       (SELECT COUNT(*) FROM tl_versions x
        WHERE x.node_id = v.node_id AND x.first_seen_us > v.first_seen_us) AS newer,
       (SELECT MAX(x.first_seen_us) FROM tl_versions x WHERE x.node_id = v.node_id) AS newest
FROM tl_versions v JOIN tl_nodes n ON n.id = v.node_id
WHERE v.id IN :ids
"""

#: Inputs that are training data (a deployment or an evaluation read by a run is not).
_DATA_KINDS: Final = frozenset({"dataset", "features"})


def stale_training_data(conn: Connection, ctx: HealthContext) -> list[Draft]:
    deployments = [d for d in live_deployments(conn, ctx) if d.models]
    # version id -> the deployments whose model chain reaches it
    reached: dict[int, set[int]] = defaultdict(set)
    for index, live in enumerate(deployments):
        for served in live.models:
            reached[served.version_id].add(index)
    frontier = set(reached)
    data: dict[int, set[int]] = defaultdict(set)
    for _ in range(MAX_MODEL_STEPS):
        if not frontier:
            break
        following: set[int] = set()
        for written, source, kind in rows_for(conn, _INPUTS_OF_WRITERS, sorted(frontier)):
            owners = reached[int(written)]
            if kind == "model":
                if not owners <= reached[int(source)]:
                    reached[int(source)] |= owners
                    following.add(int(source))
            elif kind in _DATA_KINDS:
                data[int(source)] |= owners
        frontier = following
    stale: dict[int, list[dict[str, object]]] = defaultdict(list)
    for row in rows_for(conn, _NEWER, sorted(data)):
        if int(row.newer) == 0:
            continue
        entry = {
            "dataset": str(row.name),
            "namespace": str(row.namespace),
            "version": str(row.version),
            "newer_versions": int(row.newer),
            "newest_days_newer": days(int(row.newest) - int(row.first_seen_us)),
        }
        for owner in data[int(row.id)]:
            stale[owner].append(entry)
    found = []
    for index, entries in sorted(stale.items()):
        live = deployments[index]
        entries.sort(key=lambda e: (str(e["dataset"]), str(e["version"])))
        worst = max(float(str(e["newest_days_newer"])) for e in entries)
        listed = ", ".join(
            f"{e['dataset']} ({e['newer_versions']} newer, newest {e['newest_days_newer']} d later)"
            for e in entries[:3]
        )
        more = f" and {len(entries) - 3} more" if len(entries) > 3 else ""
        found.append(
            Draft(
                live.node,
                "stale_training_data",
                "warn",
                f"its model was trained on {len(entries)} data version(s) with newer versions: "
                f"{listed}{more}",
                "retrain on the newest data and deploy again, or record why the old data stays",
                version=live.version,
                details={"stale_inputs": entries, "max_days_newer": worst},
            )
        )
    return found


CHECKS: Final = (stale_training_data,)

__all__ = ["CHECKS", "MAX_MODEL_STEPS", "stale_training_data"]
