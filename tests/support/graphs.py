"""A hand-built lineage graph with known answers, recorded as OpenLineage-shaped events.

::

    day 1  ingest   ex:i1  raw_a@a1 (pii, team:data), raw_b@b1        → clean@c1
    day 2  features ex:f1  clean@c1                                    → feat@f1
    day 3  train    ex:ta  feat@f1                    (C=0.1, git aaa) → model_a@ma
    day 4  train    ex:tb  feat@f1, holidays@h1       (C=1.0, git bbb+dirty) → model_b@mb
    day 4  train    FAIL, no data
    day 5  evaluate ex:ea  model_a@ma                                  → eval_a@ea (auc 0.88)
    day 5  evaluate ex:eb  model_b@mb                                  → eval_b@eb (auc 0.91)
    day 6  score    ex:s1  model_b@mb, unrelated@u1   (run twice)      → preds@p1
    day 7  ingest   ex:i2  raw_a@a2, raw_b@b1                          → clean@c2
    day 7  features ex:f2  clean@c2                                    → feat@f2
    day 7  train    ex:tc  feat@f2                    (C=0.1, git aaa) → model_c@mc
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.events import uid
from tests.support.pg import fresh_database
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.store import open_store
from threadline.store.sql import SqlStore

NS = "file://h"
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


def day(n: int, hour: int = 0) -> str:
    return f"2026-01-{n:02d}T{hour:02d}:00:00Z"


def ds(name: str, version: str | None, kind: str = "dataset", **facets: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"threadline_artifact": {"kind": kind}, **facets}
    if version is not None:
        body["version"] = {"datasetVersion": version}
    return {"namespace": NS, "name": name, "facets": body}


def context(user: str = "ana", commit: str = COMMIT_A, dirty: bool = False) -> dict[str, Any]:
    return {
        "user": user,
        "host": "vm1",
        "git": {"commit": commit, "dirty": dirty, "branch": "main"},
        "script": {"path": "/src/pipeline.py", "digest": "b3:5c21"},
    }


def run_event(
    job: str,
    run: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    *,
    when: str,
    execution: str | None = None,
    params: dict[str, Any] | None = None,
    event_type: str = "COMPLETE",
    stage: str | None = None,
    reason: str | None = None,
    ctx: dict[str, Any] | None = None,
    namespace: str = "t",
) -> dict[str, Any]:
    facets: dict[str, Any] = {"threadline_context": ctx or context()}
    if execution:
        facets["threadline_execution"] = {"executionId": execution}
    if params:
        facets["threadline_parameters"] = {"parameters": params}
    if reason:
        facets["threadline_reason"] = {"reason": reason}
    job_facets: dict[str, Any] = {}
    if stage:
        job_facets["threadline_stage"] = {"stage": stage}
    return {
        "eventType": event_type,
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run, "facets": facets},
        "job": {"namespace": namespace, "name": job, "facets": job_facets},
        "inputs": inputs,
        "outputs": outputs,
    }


RAW_A1 = ds(
    "/raw_a",
    "b3:a1",
    ownership={"owners": [{"name": "team:data"}]},
    threadline_classification={"labels": ["pii"]},
)


def pipeline_events() -> list[dict[str, Any]]:
    feat1 = ds("/feat", "b3:f1", "features")
    model_a = ds("/model_a", "b3:ma", "model")
    model_b = ds("/model_b", "b3:mb", "model")
    return [
        run_event(
            "ingest",
            uid(1),
            [RAW_A1, ds("/raw_b", "b3:b1")],
            [ds("/clean", "b3:c1")],
            when=day(1),
            execution="ex:i1",
            stage="ingestion",
        ),
        run_event(
            "features",
            uid(2),
            [ds("/clean", "b3:c1")],
            [feat1],
            when=day(2),
            execution="ex:f1",
            stage="features",
        ),
        run_event("train", uid(3), [], [], when=day(3), event_type="START", stage="training"),
        run_event(
            "train",
            uid(3),
            [feat1],
            [model_a],
            when=day(3, 1),
            execution="ex:ta",
            params={"C": 0.1},
            stage="training",
            reason="baseline",
        ),
        run_event(
            "train",
            uid(4),
            [feat1, ds("/holidays", "b3:h1")],
            [model_b],
            when=day(4),
            execution="ex:tb",
            params={"C": 1.0},
            stage="training",
            ctx=context("bo", COMMIT_B, dirty=True),
        ),
        run_event("train", uid(9), [], [], when=day(4, 6), event_type="FAIL", stage="training"),
        run_event(
            "evaluate",
            uid(5),
            [model_a],
            [ds("/eval_a", "b3:ea", "evaluation", threadline_quality={"metrics": {"auc": 0.88}})],
            when=day(5),
            execution="ex:ea",
        ),
        run_event(
            "evaluate",
            uid(6),
            [model_b],
            [ds("/eval_b", "b3:eb", "evaluation", threadline_quality={"metrics": {"auc": 0.91}})],
            when=day(5, 1),
            execution="ex:eb",
        ),
        run_event(
            "score",
            uid(7),
            [model_b, ds("/unrelated", "b3:u1")],
            [ds("/preds", "b3:p1", "predictions")],
            when=day(6),
            execution="ex:s1",
        ),
        run_event(
            "score",
            uid(8),
            [model_b, ds("/unrelated", "b3:u1")],
            [ds("/preds", "b3:p1", "predictions")],
            when=day(6, 12),
            execution="ex:s1",
            ctx=context("cy"),
        ),
        run_event(
            "ingest",
            uid(10),
            [ds("/raw_a", "b3:a2"), ds("/raw_b", "b3:b1")],
            [ds("/clean", "b3:c2")],
            when=day(7),
            execution="ex:i2",
        ),
        run_event(
            "features",
            uid(11),
            [ds("/clean", "b3:c2")],
            [ds("/feat", "b3:f2", "features")],
            when=day(7, 1),
            execution="ex:f2",
        ),
        run_event(
            "train",
            uid(12),
            [ds("/feat", "b3:f2", "features")],
            [ds("/model_c", "b3:mc", "model")],
            when=day(7, 2),
            execution="ex:tc",
            params={"C": 0.1},
        ),
    ]


def build_store(path: Path) -> SqlStore:
    store = open_store(path)
    store.append_batch(pipeline_events())
    return store


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextlib.contextmanager
def pipeline_store(backend: str, tmp_path: Path) -> Iterator[SqlStore]:
    """The pipeline above in a fresh store: a SQLite file, or a new PostgreSQL database.

    PostgreSQL is skipped when no server answers, except in CI (``CI`` set), where it fails.
    """
    if backend == "sqlite":
        store = build_store(tmp_path / "lineage.db")
        try:
            yield store
        finally:
            store.close()
        return
    with fresh_database("tl_query") as url:
        store = open_store(url)
        try:
            store.append_batch(pipeline_events())
            yield store
        finally:
            store.close()


def execute(store: SqlStore, sql: str, **params: Any) -> None:
    """Change the store behind its back (to test what tampering or odd clocks do)."""
    store.settle()  # the graph follows the log: what is tampered with must be there first
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql), params)
    finally:
        engine.dispose()
