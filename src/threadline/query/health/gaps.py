"""Gaps: lineage that should have been recorded and was not.

* ``model_without_training_data`` (error): no version of a model was written by a run that
  read anything, nor derived from anything;
* ``predictions_without_model`` (error): no version of a predictions artifact comes, within
  two steps through other predictions, from a run that read a model or a deployment;
* ``run_never_ended`` (warn): a run still START/RUNNING long after its last event (its process
  died, or its end event was lost); found through the partial index of open runs;
* ``job_without_run`` (info): a job (a pipeline stage declared, say, by a JobEvent) with no
  recorded run;
* ``input_never_produced`` (warn): a dataset runs read that no recorded run wrote and that is
  not registered as a source (labelled ``source``, e.g. by ``[[tool.threadline.classify]]``).
"""

from __future__ import annotations

from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.query.health.context import Draft, HealthContext, NodeRow, iso, node_rows
from threadline.store.schema import OPEN_RUN, nodes, runs

#: The label that registers a dataset as a source: nothing upstream of it is expected.
SOURCE_LABEL: Final = "source"

_MODELS_WITHOUT_TRAINING: Final = sa.text("""
SELECT n.id, n.kind, n.namespace, n.name FROM tl_nodes n
WHERE n.type = 'dataset' AND n.kind = 'model'
AND NOT EXISTS (
    SELECT 1 FROM tl_versions v
    JOIN tl_edges o ON o.dst = v.id AND o.relation IN ('output', 'derived')
    WHERE v.node_id = n.id AND (
        o.relation = 'derived'
        OR EXISTS (SELECT 1 FROM tl_edges i WHERE i.dst = o.src AND i.relation = 'input')
    )
)
""")

# Predictions none of whose versions was written by a run that read a model or a deployment,
# directly or through other predictions (a predictions file written from in-memory predictions
# is two steps from the model).  Every join follows an index from the node outwards.
_PREDICTIONS_WITHOUT_MODEL: Final = sa.text("""
SELECT n.id, n.kind, n.namespace, n.name FROM tl_nodes n
WHERE n.type = 'dataset' AND n.kind = 'predictions'
AND NOT EXISTS (
    SELECT 1 FROM tl_versions v
    JOIN tl_edges o ON o.dst = v.id AND o.relation = 'output'
    JOIN tl_edges i ON i.dst = o.src AND i.relation = 'input'
    JOIN tl_versions iv ON iv.id = i.src
    JOIN tl_nodes inn ON inn.id = iv.node_id
    WHERE v.node_id = n.id AND (
        inn.kind IN ('model', 'deployment')
        OR (inn.kind = 'predictions' AND EXISTS (
            SELECT 1 FROM tl_edges o2
            JOIN tl_edges i2 ON i2.dst = o2.src AND i2.relation = 'input'
            JOIN tl_versions iv2 ON iv2.id = i2.src
            JOIN tl_nodes inn2 ON inn2.id = iv2.node_id AND inn2.kind IN ('model', 'deployment')
            WHERE o2.dst = iv.id AND o2.relation = 'output'
        ))
    )
)
""")

_JOBS_WITHOUT_RUN: Final = sa.text("""
SELECT n.id, n.kind, n.namespace, n.name FROM tl_nodes n
WHERE n.type = 'job'
AND NOT EXISTS (SELECT 1 FROM tl_runs r WHERE r.job_node_id = n.id)
AND NOT EXISTS (SELECT 1 FROM tl_versions v WHERE v.node_id = n.id)
""")

# Datasets no recorded run wrote nor derived, each with whether a run read it and whether
# anything used it at all: one scan that the gaps and the orphans checks share.
_UNPRODUCED: Final = sa.text("""
SELECT n.id, n.kind, n.namespace, n.name, n.facets,
    EXISTS (
        SELECT 1 FROM tl_versions v JOIN tl_edges e ON e.src = v.id AND e.relation = 'input'
        WHERE v.node_id = n.id
    ) AS read,
    EXISTS (
        SELECT 1 FROM tl_versions v JOIN tl_edges e ON e.src = v.id WHERE v.node_id = n.id
    ) AS used
FROM tl_nodes n
WHERE n.type = 'dataset'
AND NOT EXISTS (
    SELECT 1 FROM tl_versions v JOIN tl_edges e ON e.dst = v.id WHERE v.node_id = n.id
)
""")


def unproduced(conn: Connection, ctx: HealthContext) -> list[Any]:
    """Rows of :data:`_UNPRODUCED` (read once per health run: two checks ask)."""
    rows: list[Any] | None = ctx.memo.get("unproduced")
    if rows is None:
        rows = ctx.memo["unproduced"] = list(conn.execute(_UNPRODUCED))
    return rows


def models_without_training_data(conn: Connection, ctx: HealthContext) -> list[Draft]:
    return [
        Draft(
            node,
            "model_without_training_data",
            "error",
            "no version of this model was written by a run that read any data",
            "record its training run (threadline run --stage training -- python train.py, "
            "or threadline.run(...) with r.read(data))",
        )
        for node in node_rows(conn.execute(_MODELS_WITHOUT_TRAINING))
    ]


def predictions_without_model(conn: Connection, ctx: HealthContext) -> list[Draft]:
    return [
        Draft(
            node,
            "predictions_without_model",
            "error",
            "no version of these predictions links to a model or a deployment",
            "have the scoring run read the model or its deployment (r.read(threadline.deploy"
            "(...))), or capture it with threadline run so the predict call is seen",
        )
        for node in node_rows(conn.execute(_PREDICTIONS_WITHOUT_MODEL))
    ]


def runs_never_ended(conn: Connection, ctx: HealthContext) -> list[Draft]:
    cutoff = ctx.now_us - ctx.stale_run_us
    stmt = (
        sa.select(
            runs.c.run_id,
            runs.c.state,
            runs.c.state_time_us,
            nodes.c.id,
            nodes.c.namespace,
            nodes.c.name,
        )
        .join(nodes, nodes.c.id == runs.c.job_node_id)
        .where(OPEN_RUN, runs.c.state_time_us < cutoff)
    )
    found = []
    for row in conn.execute(stmt):
        last = iso(int(row.state_time_us))
        found.append(
            Draft(
                NodeRow(int(row.id), "job", str(row.namespace), str(row.name)),
                "run_never_ended",
                "warn",
                f"run {row.run_id} is still {row.state}; its last event was at {last}",
                "end it with a COMPLETE, FAIL or ABORT event (threadline run closes the runs "
                "of processes that died the next time it writes to this store)",
                # One finding per run: the run id tells them apart.
                version=f"run:{row.run_id}",
                details={"run_id": row.run_id, "state": row.state, "last_event": last},
            )
        )
    return found


def jobs_without_run(conn: Connection, ctx: HealthContext) -> list[Draft]:
    return [
        Draft(
            node,
            "job_without_run",
            "info",
            "this job is declared but no run of it was ever recorded",
            "run the stage under threadline run, or remove the job's declaration",
        )
        for node in node_rows(conn.execute(_JOBS_WITHOUT_RUN))
    ]


def _labels(facets_text: str) -> set[str]:
    try:
        facets = orjson.loads(facets_text or "{}")
    except orjson.JSONDecodeError:
        return set()
    facet = facets.get("threadline_classification") if isinstance(facets, dict) else None
    if not isinstance(facet, dict):
        return set()
    labels = [*(facet.get("labels") or []), *(facet.get("inherited") or [])]
    return {str(label) for label in labels}


def inputs_never_produced(conn: Connection, ctx: HealthContext) -> list[Draft]:
    found = []
    for row in unproduced(conn, ctx):
        if not row.read or SOURCE_LABEL in _labels(row.facets):
            continue
        found.append(
            Draft(
                NodeRow(int(row.id), str(row.kind), str(row.namespace), str(row.name)),
                "input_never_produced",
                "warn",
                "runs read this dataset but no recorded run wrote it",
                f"record the run that writes it, or register it as a source: label it "
                f"{SOURCE_LABEL!r} ([[tool.threadline.classify]] path = ..., "
                f'labels = ["{SOURCE_LABEL}"])',
            )
        )
    return found


CHECKS: Final = (
    models_without_training_data,
    predictions_without_model,
    runs_never_ended,
    jobs_without_run,
    inputs_never_produced,
)

__all__ = [
    "CHECKS",
    "SOURCE_LABEL",
    "inputs_never_produced",
    "jobs_without_run",
    "models_without_training_data",
    "predictions_without_model",
    "runs_never_ended",
    "unproduced",
]
