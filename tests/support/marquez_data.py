"""A catalog for the Marquez API tests: the events Marquez's own tests send, its "apples"
scenario, the lineage threadline captured running its demo, threadline's hand-built ML
pipeline, and a warehouse pipeline that uses what the Marquez UI shows (column lineage, tags,
sources, schemas, a stream, a run still going).

Every event goes into the store through its ``append_batch``, not the HTTP ingest, so what the
ingest policy accepts or refuses does not change the catalog the read API is tested on.
"""

from __future__ import annotations

import copy
import gzip
import json
from typing import Any, Final

from tests.support.data import DATA
from tests.support.graphs import pipeline_events
from threadline.model.events import PRODUCER, SCHEMA_URL

MARQUEZ: Final = DATA / "marquez"
"""Marquez's OpenAPI description and test events (see its ``SOURCE.md``)."""

WAREHOUSE: Final = "postgres://warehouse:5432"
STREAMS: Final = "kafka://broker:9092"
FACET_SCHEMA: Final = "https://openlineage.io/spec/facets/1-0-0/Facet.json"

#: Run ids of the warehouse pipeline: load (orders, customers) → enrich → report; a stream
#: consumer still running.
LOAD, ENRICH, REPORT, CONSUME = (f"01900000-0000-7000-8000-00000000a{n:03d}" for n in range(4))


def _facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": FACET_SCHEMA, **fields}


def marquez_events() -> list[dict[str, Any]]:
    """Marquez's API test events and its apples scenario.  Those without ``schemaURL`` get
    one: the store's structural check refused them when this was written, and the read API
    is what these tests are about."""
    events = []
    for folder in ("events", "apples"):
        for path in sorted((MARQUEZ / folder).glob("*.json")):
            event = json.loads(path.read_text())
            event.setdefault("schemaURL", SCHEMA_URL)
            events.append(event)
    return events


def captured_demo_events() -> list[dict[str, Any]]:
    """What threadline's capture recorded running the demo (``tests/data/demo``)."""
    lines = gzip.decompress((DATA / "demo" / "lineage.ndjson.gz").read_bytes()).splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def demo_events() -> list[dict[str, Any]]:
    """The hand-built ML pipeline of :mod:`tests.support.graphs`, its facets stamped with
    ``_producer`` and ``_schemaURL`` as threadline's capture writes them."""
    events = copy.deepcopy(pipeline_events())

    def stamp(facets: dict[str, Any] | None) -> None:
        for facet in (facets or {}).values():
            if isinstance(facet, dict):
                facet.setdefault("_producer", PRODUCER)
                facet.setdefault("_schemaURL", FACET_SCHEMA)

    for event in events:
        stamp(event["run"].get("facets"))
        stamp(event["job"].get("facets"))
        for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
            stamp(dataset.get("facets"))
    return events


def _table(name: str, columns: dict[str, str], **facets: Any) -> dict[str, Any]:
    return {
        "namespace": WAREHOUSE,
        "name": name,
        "facets": {
            "schema": _facet(fields=[{"name": c, "type": t} for c, t in columns.items()]),
            "dataSource": _facet(name="warehouse", uri="postgresql://warehouse:5432/shop"),
            "documentation": _facet(description=f"The {name} table"),
            **facets,
        },
    }


def _column_lineage(fields: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
    return _facet(
        fields={
            out: {
                "inputFields": [
                    {
                        "namespace": WAREHOUSE,
                        "name": table,
                        "field": column,
                        "transformations": [
                            {"type": "DIRECT", "subtype": "IDENTITY", "description": "copied"}
                        ],
                    }
                    for table, column in sources
                ]
            }
            for out, sources in fields.items()
        }
    )


def _run(
    job: str, run_id: str, when: str, inputs: list[Any], outputs: list[Any], state: str
) -> dict[str, Any]:
    return {
        "eventType": state,
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {
            "runId": run_id,
            "facets": {
                "nominalTime": _facet(nominalStartTime=when, nominalEndTime=when),
            },
        },
        "job": {
            "namespace": "shop",
            "name": job,
            "facets": {
                "documentation": _facet(description=f"The {job} job"),
                "sourceCodeLocation": _facet(type="git", url=f"https://git.example/shop/{job}.py"),
                "jobType": _facet(processingType="BATCH", integration="AIRFLOW", jobType="TASK"),
            },
        },
        "inputs": inputs,
        "outputs": outputs,
    }


def warehouse_events() -> list[dict[str, Any]]:
    """load → orders, customers; enrich (column lineage) → order_facts; report reads it; a
    stream consumer RUNNING.  ``orders`` is tagged ``PII`` on ``email`` and ``tier:gold``."""
    tags = _facet(
        tags=[
            {"key": "tier", "value": "gold", "source": "USER"},
            {"key": "PII", "value": "true", "source": "USER", "field": "email"},
        ]
    )
    orders = _table("public.orders", {"id": "INTEGER", "email": "VARCHAR", "total": "DECIMAL"})
    orders["facets"]["tags"] = tags
    customers = _table("public.customers", {"id": "INTEGER", "name": "VARCHAR"})
    facts = _table(
        "public.order_facts",
        {"order_id": "INTEGER", "customer": "VARCHAR", "total": "DECIMAL"},
        columnLineage=_column_lineage(
            {
                "order_id": [("public.orders", "id")],
                "customer": [("public.customers", "name"), ("public.orders", "email")],
                "total": [("public.orders", "total")],
            }
        ),
    )
    report = _table("public.daily_report", {"day": "DATE", "total": "DECIMAL"})
    report["facets"]["columnLineage"] = _column_lineage(
        {"total": [("public.order_facts", "total")]}
    )
    clicks = {"namespace": STREAMS, "name": "clicks", "facets": {}}
    day = "2026-03-0{}T0{}:00:00Z"
    return [
        _run("load", LOAD, day.format(1, 1), [], [orders, customers], "START"),
        _run("load", LOAD, day.format(1, 2), [], [orders, customers], "COMPLETE"),
        _run("enrich", ENRICH, day.format(2, 1), [orders, customers], [facts], "START"),
        _run("enrich", ENRICH, day.format(2, 2), [orders, customers], [facts], "COMPLETE"),
        _run("report", REPORT, day.format(3, 1), [facts], [report], "COMPLETE"),
        _run("consume_clicks", CONSUME, day.format(4, 1), [clicks], [], "RUNNING"),
    ]


def catalog_events() -> list[dict[str, Any]]:
    """Every event above."""
    return [*marquez_events(), *captured_demo_events(), *demo_events(), *warehouse_events()]


__all__ = [
    "CONSUME",
    "ENRICH",
    "LOAD",
    "MARQUEZ",
    "REPORT",
    "STREAMS",
    "WAREHOUSE",
    "captured_demo_events",
    "catalog_events",
    "demo_events",
    "marquez_events",
    "warehouse_events",
]
