"""Small OpenLineage-shaped event builders for store tests: run ``n`` completes, reading and
writing named datasets in the ``file://h`` namespace."""

from __future__ import annotations

from typing import Any

from threadline.model.events import PRODUCER, SCHEMA_URL


def uid(n: int) -> str:
    """A valid, readable UUIDv7-shaped run id numbered ``n``."""
    return f"00000000-0000-7000-8000-{n:012d}"


def dataset(
    name: str, version: str | None = None, kind: str | None = None, **facets: Any
) -> dict[str, Any]:
    if version:
        facets["version"] = {"datasetVersion": version}
    if kind:
        facets["threadline_artifact"] = {"kind": kind}
    return {"namespace": "file://h", "name": name, "facets": facets}


def event(
    run: int,
    event_type: str = "COMPLETE",
    *,
    when: str = "2026-01-01T00:00:00Z",
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    job: str = "job",
    run_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": uid(run), "facets": run_facets or {}},
        "job": {"namespace": "test", "name": job},
        "inputs": inputs or [],
        "outputs": outputs or [],
    }
