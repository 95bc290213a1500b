"""Marquez's tags: the list, and tagging datasets, their columns and jobs as recorded events.

==========================================================================  =====================
``GET /api/v1/tags``                                                         ``{"tags": [Tag]}``
``POST|PUT /api/v1/namespaces/{ns}/datasets/{ds}/tags/{tag}``                ``Dataset``
``DELETE /api/v1/namespaces/{ns}/datasets/{ds}/tags/{tag}``                  ``Dataset``
``POST|PUT /api/v1/namespaces/{ns}/datasets/{ds}/fields/{field}/tags/{tag}``  ``Dataset``
``DELETE /api/v1/namespaces/{ns}/datasets/{ds}/fields/{field}/tags/{tag}``    ``Dataset``
``POST|PUT /api/v1/namespaces/{ns}/jobs/{job}/tags/{tag}``                    ``Job``
``DELETE /api/v1/namespaces/{ns}/jobs/{job}/tags/{tag}``                      ``Job``
==========================================================================  =====================

Marquez keeps tags in a side table; here a change of tags is an OpenLineage event appended to
the log like any other: a ``DatasetEvent`` for a dataset or a column, a ``JobEvent`` for a job
(Marquez's own API documents the dataset routes; it serves the job ones too).  Its ``tags``
facet holds the whole new tag list (an entry ``{"key": TAG, "value": "true", "source":
"USER"}``, with ``field`` for a column's tag: :func:`threadline.query.catalog.retagged`).  So
a tag is in the hash chain, in exports and in the change stream, and who-tagged-what-when is
answered by the log.  Adding a tag that is there, or removing one that is not, records
nothing.  The event's time is now, or just after the newest event about the dataset or job
when that is later (a producer's clock ahead of ours), so the newest tags win.  A job's tag
event declares no inputs or outputs, and the lineage a never-run job declared stays that of
its latest JobEvent that declares some.

Tag changes are serialised within one server process (each reads the current list and writes
the next); two worker processes changing one node's tags at the same instant can lose one
change.  The answer is the dataset or job as it stands after the change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Path, Request

from threadline.errors import NotFound, UsageError
from threadline.model.events import DATASET_EVENT_SCHEMA_URL, JOB_EVENT_SCHEMA_URL, PRODUCER
from threadline.model.times import iso
from threadline.query import catalog
from threadline.server.marquez_json import dataset_json, job_json
from threadline.server.marquez_params import (
    Limit,
    NamePath,
    NamespacePath,
    Offset,
    segment,
    store_of,
)

router = APIRouter(tags=["Marquez"])

T = TypeVar("T")

TAGS_FACET_SCHEMA: Final = (
    "https://openlineage.io/spec/facets/1-0-0/TagsDatasetFacet.json#/$defs/TagsDatasetFacet"
)
JOB_TAGS_FACET_SCHEMA: Final = (
    "https://openlineage.io/spec/facets/1-0-0/TagsJobFacet.json#/$defs/TagsJobFacet"
)
#: The longest tag name accepted (Marquez's column is 255 characters).
MAX_TAG: Final = 255

TagPath = Annotated[str, Path(description="Tag name (percent-encoded)")]
FieldPath = Annotated[str, Path(description="Column name (percent-encoded)")]


@router.get("/api/v1/tags", summary="List the tags in use")
def list_tags(request: Request, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    page = catalog.tags(store_of(request), limit=limit, offset=offset)
    return {"tags": [{"name": str(name), "description": None} for name in page.items]}


def _tag(raw: str) -> str:
    tag = segment(raw)
    if not tag.strip() or len(tag) > MAX_TAG:
        raise UsageError(f"tag {tag!r} must be 1 to {MAX_TAG} characters, not blank")
    return tag


def tags_event(node: catalog.NodeRow, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``DatasetEvent`` or ``JobEvent`` that records ``entries`` as the dataset's or job's
    tags (see the module docs)."""
    at = max(time.time_ns() // 1000, node.updated_us + 1)
    dataset = node.type == "dataset"
    facet = {
        "_producer": PRODUCER,
        "_schemaURL": TAGS_FACET_SCHEMA if dataset else JOB_TAGS_FACET_SCHEMA,
        "tags": entries,
    }
    return {
        "eventTime": iso(at),
        "producer": PRODUCER,
        "schemaURL": DATASET_EVENT_SCHEMA_URL if dataset else JOB_EVENT_SCHEMA_URL,
        node.type: {"namespace": node.namespace, "name": node.name, "facets": {"tags": facet}},
    }


def _lock(request: Request) -> asyncio.Lock:
    state = request.app.state
    lock: asyncio.Lock | None = getattr(state, "marquez_tag_lock", None)
    if lock is None:
        lock = state.marquez_tag_lock = asyncio.Lock()
    return lock


async def _retag(
    request: Request,
    load: Callable[[], T],
    node_of: Callable[[T], catalog.NodeRow],
    shape: Callable[[T], dict[str, Any]],
    tag: str,
    field: str | None = None,
    *,
    add: bool,
) -> dict[str, Any]:
    """Read the dataset or job (``load``), record its new tags if they change, answer it as it
    stands then (``shape``)."""
    async with _lock(request):
        current = await anyio.to_thread.run_sync(load)
        node = node_of(current)
        entries = catalog.retagged(catalog.tag_entries(node.facets), tag, field, add=add)
        if entries is None:
            return shape(current)
        await request.app.state.runtime.writer.append([tags_event(node, entries)])
        changed = await anyio.to_thread.run_sync(load)
    return shape(changed)


async def _change_dataset(
    request: Request, namespace: str, name: str, tag: str, field: str | None, *, add: bool
) -> dict[str, Any]:
    store = store_of(request)

    def load() -> catalog.Dataset:
        dataset = catalog.dataset(store, namespace, name)
        if field is not None and field not in catalog.column_names(dataset):
            raise NotFound(f"no field {field!r} in dataset {name!r} of namespace {namespace!r}")
        return dataset

    return await _retag(request, load, lambda d: d.node, dataset_json, tag, field, add=add)


async def _change_job(
    request: Request, namespace: str, name: str, tag: str, *, add: bool
) -> dict[str, Any]:
    store = store_of(request)
    return await _retag(
        request,
        lambda: catalog.job(store, namespace, name),
        lambda j: j.node,
        job_json,
        tag,
        add=add,
    )


_DATASET_TAG: Final = "/api/v1/namespaces/{namespace}/datasets/{dataset}/tags/{tag}"
_FIELD_TAG: Final = "/api/v1/namespaces/{namespace}/datasets/{dataset}/fields/{field}/tags/{tag}"
_JOB_TAG: Final = "/api/v1/namespaces/{namespace}/jobs/{job}/tags/{tag}"


# POST is Marquez's (and its clients'); PUT is accepted too.  One route per method, so each
# has its own OpenAPI operation.
@router.put(_DATASET_TAG, summary="Tag a dataset")
@router.post(_DATASET_TAG, summary="Tag a dataset")
async def add_dataset_tag(
    request: Request, namespace: NamespacePath, dataset: NamePath, tag: TagPath
) -> dict[str, Any]:
    return await _change_dataset(
        request, segment(namespace), segment(dataset), _tag(tag), None, add=True
    )


@router.delete(_DATASET_TAG, summary="Untag a dataset")
async def remove_dataset_tag(
    request: Request, namespace: NamespacePath, dataset: NamePath, tag: TagPath
) -> dict[str, Any]:
    return await _change_dataset(
        request, segment(namespace), segment(dataset), _tag(tag), None, add=False
    )


@router.put(_FIELD_TAG, summary="Tag a column of a dataset")
@router.post(_FIELD_TAG, summary="Tag a column of a dataset")
async def add_field_tag(
    request: Request, namespace: NamespacePath, dataset: NamePath, field: FieldPath, tag: TagPath
) -> dict[str, Any]:
    return await _change_dataset(
        request, segment(namespace), segment(dataset), _tag(tag), segment(field), add=True
    )


@router.delete(_FIELD_TAG, summary="Untag a column of a dataset")
async def remove_field_tag(
    request: Request, namespace: NamespacePath, dataset: NamePath, field: FieldPath, tag: TagPath
) -> dict[str, Any]:
    return await _change_dataset(
        request, segment(namespace), segment(dataset), _tag(tag), segment(field), add=False
    )


@router.put(_JOB_TAG, summary="Tag a job")
@router.post(_JOB_TAG, summary="Tag a job")
async def add_job_tag(
    request: Request, namespace: NamespacePath, job: NamePath, tag: TagPath
) -> dict[str, Any]:
    return await _change_job(request, segment(namespace), segment(job), _tag(tag), add=True)


@router.delete(_JOB_TAG, summary="Untag a job")
async def remove_job_tag(
    request: Request, namespace: NamespacePath, job: NamePath, tag: TagPath
) -> dict[str, Any]:
    return await _change_job(request, segment(namespace), segment(job), _tag(tag), add=False)


__all__ = ["JOB_TAGS_FACET_SCHEMA", "MAX_TAG", "TAGS_FACET_SCHEMA", "router", "tags_event"]
