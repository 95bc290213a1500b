"""threadline's own questions over HTTP, answering with the query layer's ``to_dict()`` JSON.

* ``GET /api/v1/threadline/trace?id=…&depth=&as_of=&limit=&row=``: upstream of a version;
  with ``row=N`` (or an id ending in ``#row=N``, ``#`` sent as ``%23``) one data row's lineage,
  the JSON of ``threadline trace ID#row=N --json`` except that row values are never read
  from the server's disk (``values_unavailable`` says so);
* ``GET /api/v1/threadline/impact?id=…&depth=&as_of=&limit=``: downstream of a version;
* ``GET /api/v1/threadline/show?id=…&as_of=``: everything recorded about one version;
* ``GET /api/v1/threadline/diff?a=…&b=…``: what differs between two versions;
* ``GET /api/v1/threadline/log?limit=&job=&since=``: the recent runs;
* ``GET /api/v1/threadline/search?text=&kind=&namespace=&owner=&label=&stage=&as_of=&limit=``:
  the newest version of each matching node;
* ``POST /api/v1/threadline/produced`` ``{"datasets": [{"namespace", "name"}, …]}``: for each
  dataset, did any recorded run output a version of it?  (``threadline run`` asks this to infer
  a script's stage when it captures to a server.)

``id`` (and ``a``, ``b``) take every id threadline prints, exactly as the command line does
(:mod:`threadline.query.resolve`): printable ids (``dataset:file://host/data/raw.csv@b3:…``;
without ``@version`` the newest version), Marquez node ids as ``/api/v1/lineage`` returns them
(``dataset:postgres://db:5432:public.orders``), short ids, unique version prefixes, run ids and
PROV identifiers.  A path is resolved on the server's disk, like the command line resolves it
on the user's: by its current content, when the server can see the file; otherwise the 404
says the file is not on the server.  Row values are never read from the server's disk.
Errors use the canonical body: an id that does not parse is a 400 (``invalid_identifier``),
one that names several things a 400 listing them (``ambiguous_identifier``, the candidates in
``detail``), one that names nothing a 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from threadline import query
from threadline.query import recorded
from threadline.query.resolve import files_seen_by
from threadline.query.search import search as run_search
from threadline.server.auth.redact import IDENTITY_STATE, reduce_graph
from threadline.store.base import Store

router = APIRouter(prefix="/api/v1/threadline", tags=["threadline"])

Ref = Annotated[
    str,
    Query(
        description="Any id threadline prints: dataset:file://host/data/raw.csv@b3:5f1c… "
        "(without @version: the newest), a Marquez node id (dataset:NAMESPACE:NAME), a unique "
        "version prefix, a run id, or a path on the server's disk"
    ),
]
Depth = Annotated[
    int | None, Query(ge=0, le=10_000, description="Edges to follow (one step is two)")
]
AsOf = Annotated[
    str | None, Query(description="Answer as the graph stood then (ISO 8601; naive means UTC)")
]
Limit = Annotated[int, Query(ge=1, le=100_000, description="Most vertices in the answer")]


def _store(request: Request) -> Store:
    store: Store = request.app.state.runtime.store
    return store


def _as_seen(request: Request, answer: dict[str, Any]) -> dict[str, Any]:
    """A graph answer reduced to what the caller may see (with auth on, the guard leaves the
    caller's identity in the request state for routes whose answers are graphs)."""
    identity = request.scope.get("state", {}).get(IDENTITY_STATE)
    return answer if identity is None else reduce_graph(answer, identity)


@contextmanager
def _on_server() -> Iterator[None]:
    """Paths named over HTTP are looked for on the server, and the errors say so."""
    with files_seen_by("the threadline server"):
        yield


@router.get("/trace", summary="Upstream of a version")
def trace(
    request: Request,
    id: Ref,
    depth: Depth = None,
    as_of: AsOf = None,
    limit: Limit = query.DEFAULT_LIMIT,
    row: Annotated[
        int | None, Query(ge=0, description="Trace this data row (from 0, header excluded)")
    ] = None,
) -> dict[str, Any]:
    with _on_server():
        graph = query.trace(
            _store(request),
            id,
            depth=depth,
            as_of=as_of,
            limit=limit,
            row=row,
            # Row values would hand a remote caller the contents of files on this host.
            row_values=False,
        )
    return _as_seen(request, graph.to_dict())


@router.get("/impact", summary="Downstream of a version")
def impact(
    request: Request,
    id: Ref,
    depth: Depth = None,
    as_of: AsOf = None,
    limit: Limit = query.DEFAULT_LIMIT,
) -> dict[str, Any]:
    with _on_server():
        graph = query.impact(_store(request), id, depth=depth, as_of=as_of, limit=limit)
    return _as_seen(request, graph.to_dict())


@router.get("/show", summary="Everything recorded about one version")
def show(request: Request, id: Ref, as_of: AsOf = None) -> dict[str, Any]:
    with _on_server():
        return query.show(_store(request), id, as_of=as_of).to_dict()


@router.get("/diff", summary="What differs between two versions")
def diff(
    request: Request,
    a: Annotated[str, Query(description="Version A: any id threadline prints, or a path")],
    b: Annotated[str, Query(description="Version B: any id threadline prints, or a path")],
) -> dict[str, Any]:
    with _on_server():
        return query.diff(_store(request), a, b).to_dict()


@router.get("/log", summary="The recent runs, newest first")
def log(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
    job: Annotated[str | None, Query(description="Only this job (NAME or NAMESPACE/NAME)")] = None,
    since: AsOf = None,
) -> dict[str, Any]:
    return query.log(_store(request), limit, job=job, since=since).to_dict()


@router.get("/search", summary="Find nodes by name, kind, namespace, owner, label or stage")
def search(
    request: Request,
    text: Annotated[str | None, Query(description="Part of the name or namespace")] = None,
    kind: Annotated[str | None, Query(description="dataset, features, model, …, job")] = None,
    namespace: Annotated[str | None, Query(description="Exact namespace")] = None,
    owner: Annotated[str | None, Query(description="Owner name, e.g. team:ml")] = None,
    label: Annotated[str | None, Query(description="Classification label, e.g. pii")] = None,
    stage: Annotated[str | None, Query(description="Jobs recorded in this stage")] = None,
    as_of: AsOf = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
) -> dict[str, Any]:
    return run_search(
        _store(request),
        text,
        kind=kind,
        namespace=namespace,
        owner=owner,
        label=label,
        stage=stage,
        as_of=as_of,
        limit=limit,
    ).to_dict()


class DatasetName(BaseModel):
    namespace: str = Field(examples=["file://host"])
    name: str = Field(examples=["/data/raw.csv"])


class ProducedQuestion(BaseModel):
    datasets: list[DatasetName] = Field(max_length=10_000)


class ProducedAnswer(BaseModel):
    produced: list[bool] = Field(description="One answer per dataset, in the order asked")


@router.post("/produced", summary="Whether recorded runs output these datasets")
def produced(request: Request, question: ProducedQuestion) -> ProducedAnswer:
    # A POST because one capture asks about many datasets at once, and names are long URIs.
    keys = [(d.namespace, d.name) for d in question.datasets]
    return ProducedAnswer(produced=recorded.produced(_store(request), keys) if keys else [])


__all__ = ["router"]
