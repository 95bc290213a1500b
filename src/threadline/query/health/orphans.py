"""Orphans: recorded things that nothing around them uses.

* ``orphan_artifact`` (info): an artifact no run wrote and no run read;
* ``model_never_evaluated`` (warn) and ``model_never_deployed`` (info): a model no evaluation
  read, or no deployment, counting the models it was copied or converted from and into (the
  in-memory estimator, the file it was saved to and the registry's copy are one model);
* ``deployment_model_superseded`` (warn): the model version a live deployment serves has a
  newer version; ``deployment_model_gone`` (error): the live deployment links to no model
  version, or its model file is no longer on this machine.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.model.ids import local_host
from threadline.query.health.context import Draft, HealthContext, NodeRow, iso, node_rows
from threadline.query.health.gaps import unproduced

_MODELS: Final = sa.text("""
SELECT n.id, n.kind, n.namespace, n.name FROM tl_nodes n
WHERE n.type = 'dataset' AND n.kind = 'model'
""")

# What the runs that read a model wrote (models, evaluations, deployments), and the versions
# derived from a model's: the links between the models and what they were used for.
_MODEL_USES: Final = sa.text("""
SELECT DISTINCT a.id, b.kind, b.id FROM tl_nodes a
JOIN tl_versions iv ON iv.node_id = a.id
JOIN tl_edges i ON i.src = iv.id AND i.relation = 'input'
JOIN tl_edges o ON o.src = i.dst AND o.relation = 'output'
JOIN tl_versions ov ON ov.id = o.dst
JOIN tl_nodes b ON b.id = ov.node_id
WHERE a.type = 'dataset' AND a.kind = 'model' AND b.kind IN ('model', 'evaluation', 'deployment')
UNION
SELECT DISTINCT a.id, b.kind, b.id FROM tl_nodes a
JOIN tl_versions iv ON iv.node_id = a.id
JOIN tl_edges d ON d.src = iv.id AND d.relation = 'derived'
JOIN tl_versions ov ON ov.id = d.dst
JOIN tl_nodes b ON b.id = ov.node_id
WHERE a.type = 'dataset' AND a.kind = 'model' AND b.kind IN ('model', 'evaluation', 'deployment')
""")

# Each deployment's newest version, its facets, and the model versions its writer read, with
# the newest version of each such model.
_DEPLOYMENTS: Final = sa.text("""
WITH newest AS (
    SELECT n.id AS node_id,
           (SELECT MAX(x.first_seen_us) FROM tl_versions x WHERE x.node_id = n.id) AS seen
    FROM tl_nodes n WHERE n.type = 'dataset' AND n.kind = 'deployment'
)
SELECT n.id, n.kind, n.namespace, n.name, v.version, v.facets,
       mn.id AS model_id, mn.namespace AS model_namespace, mn.name AS model_name,
       mv.id AS model_version_id, mv.version AS model_version, mv.first_seen_us AS model_seen,
       (SELECT MAX(x.first_seen_us) FROM tl_versions x WHERE x.node_id = mn.id) AS model_newest
FROM newest
JOIN tl_nodes n ON n.id = newest.node_id
JOIN tl_versions v ON v.node_id = newest.node_id AND v.first_seen_us = newest.seen
LEFT JOIN tl_edges o ON o.dst = v.id AND o.relation = 'output'
LEFT JOIN tl_edges i ON i.dst = o.src AND i.relation = 'input'
LEFT JOIN tl_versions mv ON mv.id = i.src
LEFT JOIN tl_nodes mn ON mn.id = mv.node_id AND mn.kind = 'model'
""")


def orphan_artifacts(conn: Connection, ctx: HealthContext) -> list[Draft]:
    return [
        Draft(
            node,
            "orphan_artifact",
            "info",
            f"no recorded run wrote or read this {node.kind}",
            "record the runs that make and use it, or ignore its path ([tool.threadline] "
            "ignore = [...]) if it is scratch",
        )
        for node in node_rows(
            (r.id, r.kind, r.namespace, r.name) for r in unproduced(conn, ctx) if not r.used
        )
    ]


class _Components:
    """Union-find over model node ids: models copied or converted into each other are one."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        parent = self.parent
        root = item
        while parent.get(root, root) != root:
            root = parent[root]
        while item != root:  # path compression
            parent[item], item = root, parent.get(item, item)
        return root

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def unused_models(conn: Connection, ctx: HealthContext) -> list[Draft]:
    models = node_rows(conn.execute(_MODELS))
    if not models:
        return []
    components = _Components()
    used: dict[str, set[int]] = defaultdict(set)
    for model_id, kind, other_id in conn.execute(_MODEL_USES):
        if kind == "model":
            components.join(int(model_id), int(other_id))
        else:
            used[str(kind)].add(int(model_id))
    evaluated = {components.find(m) for m in used["evaluation"]}
    deployed = {components.find(m) for m in used["deployment"]}
    found = []
    for node in models:
        root = components.find(node.id)
        if root not in evaluated:
            found.append(
                Draft(
                    node,
                    "model_never_evaluated",
                    "warn",
                    "no recorded evaluation read this model (nor a copy of it)",
                    "compute its metrics in a run threadline captures (sklearn.metrics calls "
                    "on its predictions are recorded as an evaluation)",
                )
            )
        if root not in deployed:
            found.append(
                Draft(
                    node,
                    "model_never_deployed",
                    "info",
                    "no deployment serves this model (nor a copy of it)",
                    "deploy it (threadline deploy MODEL --endpoint E --env ENV) or retire it",
                )
            )
    return found


def _retired(facets_text: str) -> bool:
    try:
        facets = orjson.loads(facets_text or "{}")
    except orjson.JSONDecodeError:
        return False
    facet = facets.get("threadline_deployment") if isinstance(facets, dict) else None
    return isinstance(facet, dict) and bool(facet.get("validTo"))


def _missing_local_file(namespace: str, name: str) -> bool:
    return namespace == f"file://{local_host()}" and not os.path.exists(name)


@dataclass(frozen=True, slots=True)
class ServedModel:
    version_id: int
    namespace: str
    name: str
    version: str
    seen_us: int
    newest_us: int


@dataclass(frozen=True, slots=True)
class LiveDeployment:
    """A deployment's newest version (not retired by ``validTo``) and the models it serves."""

    node: NodeRow
    version: str
    models: list[ServedModel]


def live_deployments(conn: Connection, ctx: HealthContext) -> list[LiveDeployment]:
    """Every live deployment (read once per health run: two checks ask)."""
    cached: list[LiveDeployment] | None = ctx.memo.get("live_deployments")
    if cached is not None:
        return cached
    found: dict[int, LiveDeployment] = {}
    for row in conn.execute(_DEPLOYMENTS):
        if _retired(row.facets):
            continue
        node = NodeRow(int(row.id), str(row.kind), str(row.namespace), str(row.name))
        entry = found.setdefault(node.id, LiveDeployment(node, str(row.version), []))
        if row.model_id is not None:
            entry.models.append(
                ServedModel(
                    int(row.model_version_id),
                    str(row.model_namespace),
                    str(row.model_name),
                    str(row.model_version),
                    int(row.model_seen),
                    int(row.model_newest),
                )
            )
    ctx.memo["live_deployments"] = answer = list(found.values())
    return answer


def deployments_off_model(conn: Connection, ctx: HealthContext) -> list[Draft]:
    found = []
    for live in live_deployments(conn, ctx):
        node, version = live.node, live.version
        if not live.models:
            found.append(
                Draft(
                    node,
                    "deployment_model_gone",
                    "error",
                    "this live deployment links to no model version",
                    "deploy again from the model file (threadline deploy MODEL ...)",
                    version=version,
                )
            )
            continue
        for served in live.models:
            model = NodeRow(0, "model", served.namespace, served.name).printable(served.version)
            if _missing_local_file(served.namespace, served.name):
                found.append(
                    Draft(
                        node,
                        "deployment_model_gone",
                        "error",
                        f"the model file this deployment serves is gone: {served.name}",
                        "restore the file, or deploy a model that exists",
                        version=version,
                        details={"model": model},
                    )
                )
            elif served.newest_us > served.seen_us:
                found.append(
                    Draft(
                        node,
                        "deployment_model_superseded",
                        "warn",
                        f"it serves {served.name} {served.version[:15]}, but a newer version "
                        f"was recorded at {iso(served.newest_us)}",
                        "deploy the newer model version, or record why the old one stays",
                        version=version,
                        details={"model": model, "newer_at": iso(served.newest_us)},
                    )
                )
    return found


CHECKS: Final = (orphan_artifacts, unused_models, deployments_off_model)

__all__ = [
    "CHECKS",
    "LiveDeployment",
    "ServedModel",
    "deployments_off_model",
    "live_deployments",
    "orphan_artifacts",
    "unused_models",
]
