"""Every GET operation of Marquez's own OpenAPI description answers, on a realistic catalog,
with a body that validates against Marquez's response schema, on SQLite and PostgreSQL.

The operations come from ``tests/data/marquez/openapi.yml`` (Marquez 0.51.2-SNAPSHOT); an
operation the document lists and threadline does not serve fails here (404/405), and an
operation without a request below fails too, so a newer document cannot slip past.  The catalog
is Marquez's own test events, its apples scenario, threadline's demo-like ML pipeline and a
warehouse pipeline with column lineage, tags, sources and a stream
(:mod:`tests.support.marquez_data`), plus tags written through the API.

The document has known quirks (its ``SOURCE.md``) and a few more found here; :func:`_readable`
handles each, with a comment.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from tests.support.live import Server, start_server
from tests.support.marquez_data import (
    ENRICH,
    MARQUEZ,
    REPORT,
    WAREHOUSE,
    catalog_events,
)
from tests.support.pg import fresh_database

from threadline.store import open_store

DOCUMENT_URI = "urn:marquez:openapi"


def _load_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((MARQUEZ / "openapi.yml").read_text())
    return document


def _get_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    """``(operationId, path)`` of every GET in the document."""
    return [
        (operations["get"]["operationId"], path)
        for path, operations in document["paths"].items()
        if "get" in operations
    ]


DOCUMENT = _load_document()
GET_OPERATIONS = _get_operations(DOCUMENT)


def _readable(document: dict[str, Any]) -> dict[str, Any]:
    """The document with its quirks resolved, so plain JSON Schema (draft 4, which OpenAPI 3.0
    schemas follow) reads it as Marquez means it."""
    fixed = copy.deepcopy(document)
    schemas = fixed["components"]["schemas"]

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        # Not in SOURCE.md: UpstreamRunLineage spells "properties" as "propoerties" (twice),
        # which would leave a run's job, run and inputs unchecked; read it as meant.
        if "propoerties" in node:
            node["properties"] = node.pop("propoerties")
        # SOURCE.md: "a few `type` entries are empty" (SearchResult.name, .updatedAt): an
        # empty type constrains nothing.
        if "type" in node and node["type"] is None:
            del node["type"]
        for value in node.values():
            walk(value)
        # SOURCE.md: "many fields that Marquez itself returns as null are not marked nullable
        # (some are even listed as required) ... Treat a field that is present with the value
        # null as conforming."  Every property also accepts null; `required` still demands
        # the key.
        properties = node.get("properties")
        if isinstance(properties, dict):
            for name, schema in list(properties.items()):
                properties[name] = {"anyOf": [{"type": "null"}, schema]}

    walk(fixed)
    # Not in SOURCE.md: two operations (getJobVersion, getJobVersions) key their response by
    # the YAML integer 200 rather than the string '200'; JSON pointers need the string.
    for operations in fixed["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                responses = operation["responses"]
                operation["responses"] = {str(code): body for code, body in responses.items()}
    # SOURCE.md: "`DatasetVersion.tags` says `string` where Marquez returns an array" (of tag
    # names, as Dataset.tags says).
    tags = schemas["DatasetVersion"]["properties"]["tags"]["anyOf"][1]
    tags.update({"type": "array", "items": {"type": "string"}})
    # SOURCE.md: "`GraphNode.data` uses an OpenAPI discriminator over `oneOf` (read it as
    # `anyOf` in plain JSON Schema)": Dataset and Job require nothing, so a node matches both.
    data = schemas["GraphNode"]["properties"]["data"]["anyOf"][1]
    data["anyOf"] = data.pop("oneOf")
    data.pop("discriminator")
    # Not in SOURCE.md: FacetsResult.facets refers to CustomFacet, one facet (which requires
    # `_producer` and `_schemaURL` at its top), while Marquez answers with the run's (or job's)
    # facets by name, like RunFacets: read it as a map of facets.
    schemas["FacetsResult"]["properties"]["facets"]["anyOf"][1] = {
        "type": "object",
        "additionalProperties": {"$ref": "#/components/schemas/CustomFacet"},
    }
    # Not in SOURCE.md: NodeType lists JOB and DATASET only, but Marquez's column lineage
    # (the same LineageGraph schema) answers with DATASET_FIELD nodes (Marquez's
    # NodeType.DATASET_FIELD, the nodes its web UI's column view draws).
    schemas["NodeType"]["enum"].append("DATASET_FIELD")
    return fixed


READABLE = _readable(DOCUMENT)
REGISTRY: Registry[Any] = Registry().with_resource(
    DOCUMENT_URI, Resource(contents=READABLE, specification=DRAFT4)
)

# Formats: date-time (RFC 3339 with a zone, what threadline prints) and uuid (Marquez's version
# and run ids; marquez-java parses them into java.util.UUID) are checked.  `URL` and `uri` are
# not formats jsonschema checks.
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value:
        raise ValueError(f"{value!r} has no time")
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no zone")
    return True


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(value: object) -> bool:
    if isinstance(value, str) and str(uuid.UUID(value)) != value.lower():
        raise ValueError(f"{value!r} is not a UUID in canonical form")
    return True


def _json_pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def response_validator(path: str) -> jsonschema.Draft4Validator:
    """A validator of the 200 response of ``GET path``, reading ``$ref`` in the document."""
    pointer = _json_pointer("paths", path, "get", "responses", "200")
    ref = f"{DOCUMENT_URI}#/{pointer}/content/application~1json/schema"
    return jsonschema.Draft4Validator({"$ref": ref}, registry=REGISTRY, format_checker=FORMATS)


# --- the catalog, on each backend ------------------------------------------------------------


def q(text: str) -> str:
    return quote(text, safe="")


def _tag_through_the_api(http: httpx.Client) -> None:
    base = f"/api/v1/namespaces/{q(WAREHOUSE)}/datasets/public.order_facts"
    for url in (f"{base}/tags/SENSITIVE", f"{base}/fields/customer/tags/PII"):
        response = http.post(url)
        assert response.status_code == 200, response.text


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def catalog_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"marquez-{request.param}")

    def serve(url: str) -> Iterator[Server]:
        with open_store(url) as store:
            store.append_batch(catalog_events())
        server = start_server(tmp, store=url)
        try:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                _tag_through_the_api(http)
            yield server
        finally:
            server.stop()

    if request.param == "sqlite":
        yield from serve(str(tmp / "lineage.db"))
    else:
        with fresh_database("tl_marquez") as url:
            yield from serve(url)


# --- the requests of each operation ----------------------------------------------------------

Request = tuple[str, dict[str, Any], str]
"""``(URL path, query parameters, a key of the answer that must not be empty)``: the last
keeps an empty answer, which validates trivially, from passing for a conforming one."""

DEMO_FILES = "file://vm"  # the captured demo's namespace of files (tests/data/demo)
BATCH = "/tmp/mq_demo/out/predictions/batch.csv"


def _dataset(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{q(namespace)}/datasets/{q(name)}"


def _job(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{q(namespace)}/jobs/{q(name)}"


#: One dataset and one job from each part of the catalog: the warehouse pipeline (column
#: lineage, tags, sources), the captured demo (threadline's own facets, names with slashes)
#: and Marquez's own test events.
DATASETS = [
    (WAREHOUSE, "public.order_facts"),
    (DEMO_FILES, BATCH),
    ("my-datasource-namespace", "instance.schema.table"),
    ("grandmas.kitchen", "apple.pie"),
]
JOBS = [
    ("shop", "enrich"),
    ("clinic-demo", "pipeline/score.py"),
    ("my-scheduler-namespace", "myjob.mytask"),
    ("grandmas.kitchen", "prepare_apple_pie"),
]


def _first(http: httpx.Client, url: str, key: str, field: str) -> str:
    response = http.get(url)
    assert response.status_code == 200, f"GET {url}: {response.text}"
    value: str = response.json()[key][0][field]
    return value


def _latest_runs(http: httpx.Client) -> list[str]:
    return [_first(http, f"{_job(ns, name)}/runs", "runs", "id") for ns, name in JOBS]


def _dataset_versions(http: httpx.Client) -> list[Request]:
    out = []
    for ns, name in DATASETS:
        version = _first(http, f"{_dataset(ns, name)}/versions", "versions", "version")
        out.append((f"{_dataset(ns, name)}/versions/{q(version)}", {}, "version"))
    return out


def _job_versions(http: httpx.Client) -> list[Request]:
    out = []
    for ns, name in JOBS:
        version = _first(http, f"{_job(ns, name)}/versions", "versions", "version")
        out.append((f"{_job(ns, name)}/versions/{q(version)}", {}, "latestRun"))
    return out


REQUESTS: dict[str, Callable[[httpx.Client], list[Request]]] = {
    "getNamespaces": lambda _: [("/api/v1/namespaces", {}, "namespaces")],
    "getNamespace": lambda _: [
        (f"/api/v1/namespaces/{q(ns)}", {}, "name") for ns in (WAREHOUSE, "clinic-demo")
    ],
    "getLineageEvents": lambda _: [
        ("/api/v1/events/lineage", {}, "events"),
        (
            "/api/v1/events/lineage",
            {
                "after": "2020-09-01T00:00:00Z",
                "before": "2030-01-01T00:00:00Z",
                "sortDirection": "asc",
                "limit": 30,
                "offset": 1,
            },
            "events",
        ),
    ],
    "getSources": lambda _: [("/api/v1/sources", {}, "sources")],
    "getSource": lambda _: [
        (f"/api/v1/sources/{q(name)}", {}, "connectionUrl")
        for name in ("warehouse", DEMO_FILES, "string")  # "string": Marquez's event says so
    ],
    "getDatasets": lambda _: [
        (f"/api/v1/namespaces/{q(ns)}/datasets", {}, "datasets") for ns, _name in DATASETS
    ],
    "getDataset": lambda _: [(_dataset(ns, name), {}, "id") for ns, name in DATASETS],
    "getDatasetVersions": lambda _: [
        (f"{_dataset(ns, name)}/versions", {}, "versions") for ns, name in DATASETS
    ],
    "getDatasetVersion": _dataset_versions,
    "getJobs": lambda _: [(f"/api/v1/namespaces/{q(ns)}/jobs", {}, "jobs") for ns, _ in JOBS],
    "getJob": lambda _: [(_job(ns, name), {}, "latestRun") for ns, name in JOBS],
    "getJobVersions": lambda _: [
        (f"{_job(ns, name)}/versions", {}, "versions") for ns, name in JOBS
    ],
    "getJobVersion": _job_versions,
    "getRuns": lambda _: [(f"{_job(ns, name)}/runs", {}, "runs") for ns, name in JOBS],
    "getRun": lambda http: [(f"/api/v1/jobs/runs/{run}", {}, "id") for run in _latest_runs(http)],
    "getFacets": lambda http: [
        (f"/api/v1/jobs/runs/{run}/facets", {"type": kind}, "runId")
        for run in [ENRICH, *_latest_runs(http)]
        for kind in ("run", "job")
    ],
    "getLineage": lambda _: (
        [("/api/v1/lineage", {"nodeId": f"dataset:{ns}:{name}"}, "graph") for ns, name in DATASETS]
        + [
            ("/api/v1/lineage", {"nodeId": f"job:{ns}:{name}", "depth": 2}, "graph")
            for ns, name in JOBS
        ]
    ),
    "getRunLineageUpstream": lambda http: [
        ("/api/v1/runlineage/upstream", {"runId": run, "depth": 5}, "runs")
        for run in [REPORT, *_latest_runs(http)]
    ],
    "getColumnLineage": lambda _: (
        [
            (
                "/api/v1/column-lineage",
                {"nodeId": f"dataset:{ns}:{name}", "withDownstream": "true"},
                "graph",
            )
            for ns, name in DATASETS[:3]  # apple.pie has no columns: an empty graph
        ]
        + [
            (
                "/api/v1/column-lineage",
                {"nodeId": f"datasetField:{WAREHOUSE}:public.order_facts:customer"},
                "graph",
            ),
            ("/api/v1/column-lineage", {"nodeId": "job:shop:enrich", "depth": 1}, "graph"),
        ]
    ),
    "getTags": lambda _: [("/api/v1/tags", {}, "tags")],
    "search": lambda _: [
        ("/api/v1/search", {"q": "order", "sort": "UPDATE_AT"}, "results"),
        ("/api/v1/search", {"q": "score", "filter": "JOB", "namespace": "clinic-demo"}, "results"),
        (
            "/api/v1/search",
            {"q": "apple", "after": "2020-09-01", "before": "2021-01-01"},
            "results",
        ),
    ],
}


@pytest.mark.parametrize(
    ("operation", "path"), GET_OPERATIONS, ids=[op for op, _ in GET_OPERATIONS]
)
def test_get_operation_conforms(catalog_server: Server, operation: str, path: str) -> None:
    build = REQUESTS.get(operation)
    if build is None:
        pytest.fail(f"no request for Marquez operation {operation} (GET {path}): add one")
    http = catalog_server.client()
    validator = response_validator(path)
    problems = []
    for url, params, witness in build(http):
        response = http.get(url, params=params)
        if response.status_code != 200:
            problems.append(f"GET {url} {params}: {response.status_code} {response.text[:300]}")
            continue
        body = response.json()
        if not body.get(witness):
            problems.append(f"GET {url} {params}: {witness!r} is empty")
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.path))[:5]:
            where = "/".join(map(str, error.absolute_path))
            problems.append(f"GET {url} {params}: {where}: {error.message[:300]}")
    assert not problems, "\n".join(problems)


def test_every_get_operation_has_a_request() -> None:
    assert len(GET_OPERATIONS) == 21
    assert {op for op, _ in GET_OPERATIONS} == set(REQUESTS)


def test_the_readable_schemas_still_reject_a_wrong_shape() -> None:
    """The quirk handling loosens nulls only: a wrong type or a missing required key fails."""
    dataset = response_validator("/namespaces/{namespace}/datasets/{dataset}")
    assert dataset.is_valid({"name": "x", "tags": ["a"], "fields": [], "description": None})
    assert list(dataset.iter_errors({"tags": "PII"}))
    assert list(dataset.iter_errors({"createdAt": "yesterday"}))
    assert list(dataset.iter_errors({"currentVersion": "b3:5c21"}))  # a token is not a UUID
    version = response_validator("/namespaces/{namespace}/datasets/{dataset}/versions/{version}")
    assert list(version.iter_errors({"name": "x"}))  # id, type, version, ... are required
    upstream = response_validator("/runlineage/upstream")
    assert list(upstream.iter_errors({"runs": [{"run": {"id": 7}}]}))
    graph = response_validator("/lineage")
    assert list(graph.iter_errors({"graph": [{"id": "x", "type": "TABLE"}]}))


def test_the_document_is_marquez_s() -> None:
    assert DOCUMENT["info"]["title"] == "Marquez"
    assert DOCUMENT["info"]["version"] == "0.51.2-SNAPSHOT"
