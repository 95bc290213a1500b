"""Every id threadline prints is accepted back: the forms of trees, tables, ``--json``, the
Marquez lineage graph and PROV exports all resolve to the vertex they were printed for."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.query.test_reference import namespaces, parts
from tests.support.events import uid
from tests.support.graphs import BACKENDS, day, ds, pipeline_store, run_event

from threadline.cli.render import display_name, short, short_id
from threadline.errors import AmbiguousIdentifier, NotFound
from threadline.export.prov import prov_json
from threadline.model.ids import ARTIFACT_KINDS
from threadline.query import catalog, log, resolve_ref, trace
from threadline.query.reading import printable
from threadline.server.marquez_graph_json import lineage_json
from threadline.store import open_store
from threadline.store.sql import SqlStore

_serial = itertools.count(1000)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    """One store the examples add to (each example's names carry a serial of their own)."""
    with open_store(tmp_path_factory.mktemp("forms") / "lineage.db") as store:
        yield store


def _digest(text: str, size: int) -> str:
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


def printed_forms(store: SqlStore, node: dict[str, Any]) -> list[str]:
    """Every way threadline prints ``node`` (a node of a trace answer)."""
    forms = [
        node["id"],
        short_id(node["id"]),
        f"{display_name(node)} {short(node['version'])}",
        short(node["version"]),
        node["id"].rpartition("@")[0],  # no version: the newest, the only one here
    ]
    type_ = "job" if node["kind"] == "job" else "dataset"
    around = catalog.node_lineage(store, type_, [(node["namespace"], node["name"])], 1)
    assert around is not None
    marquez = [n["id"] for n in lineage_json(around)["graph"]]
    forms += [m for m in marquez if m == f"{type_}:{node['namespace']}:{node['name']}"]
    return forms


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    namespace=namespaces,
    name=parts,
    job_namespace=namespaces,
    job=parts,
    kind=st.sampled_from(ARTIFACT_KINDS),
)
# A path recorded with a doubled slash: its tree label once resolved only in normal form.
@example(namespace="file://h", name="0//0", job_namespace="file://h", job="0", kind="dataset")
def test_every_printed_form_round_trips(
    shared: SqlStore, namespace: str, name: str, job_namespace: str, job: str, kind: str
) -> None:
    serial = next(_serial)
    marker = f"n{serial}"
    if namespace.startswith("file://"):
        name = "/" + name.strip("/") + f"/{marker}.csv"
    else:
        name += marker
    job += marker
    output = {
        "namespace": namespace,
        "name": name,
        "facets": {
            "threadline_artifact": {"kind": kind},
            "version": {"datasetVersion": "b3:" + _digest(marker, 32)},
        },
    }
    event = run_event(
        job,
        uid(serial),
        [],
        [output],
        when=day(1),
        execution="ex:" + _digest("ex" + marker, 16),
        namespace=job_namespace,
    )
    shared.append_batch([event])
    graph = trace(shared, printable(kind, namespace, name))
    assert len(graph.nodes) == 2
    for node in graph.nodes:
        forms = printed_forms(shared, node)
        assert len(forms) == 6
        for form in forms:
            assert str(resolve_ref(shared, form)) == node["id"], form
    execution = next(n for n in graph.nodes if n["kind"] == "job")
    assert str(resolve_ref(shared, uid(serial))) == execution["id"]
    for section in ("entity", "activity"):
        for prov_id in json.loads(prov_json(graph)).get(section, {}):
            assert str(resolve_ref(shared, prov_id)) in {n["id"] for n in graph.nodes}


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """The pipeline of tests.support.graphs plus a PostgreSQL table read by a job."""
    with pipeline_store(request.param, tmp_path) as built:
        orders = {"namespace": "postgres://db:5432", "name": "public.orders", "facets": {}}
        orders["facets"] = {"version": {"datasetVersion": "v:1"}}
        built.append_batch(
            [
                run_event(
                    "load",
                    uid(40),
                    [orders],
                    [ds("/orders.csv", "b3:0d")],
                    when=day(8),
                    execution="ex:l1",
                    namespace="etl:nightly",
                )
            ]
        )
        yield built


def test_marquez_node_ids_with_a_postgres_namespace(store: SqlStore) -> None:
    vertex = resolve_ref(store, "dataset:postgres://db:5432:public.orders")
    assert str(vertex) == "dataset:postgres://db:5432/public.orders@v:1"
    assert str(resolve_ref(store, "dataset:postgres://db:5432/public.orders")) == str(vertex)
    # A job whose namespace holds a colon, as /api/v1/lineage prints it.
    assert str(resolve_ref(store, "job:etl:nightly:load")) == "job:etl:nightly/load@ex:l1"
    assert str(resolve_ref(store, "etl:nightly/load@ex:l")) == "job:etl:nightly/load@ex:l1"
    graph = trace(store, "dataset:file://h:/orders.csv")
    assert {n["name"] for n in graph.nodes} == {"/orders.csv", "load", "public.orders"}
    with pytest.raises(NotFound, match=r"^dataset:postgres://db:5432:public\.order is not"):
        resolve_ref(store, "dataset:postgres://db:5432:public.order")


def test_an_ambiguous_prefix_lists_the_candidates(store: SqlStore) -> None:
    with pytest.raises(AmbiguousIdentifier) as caught:
        resolve_ref(store, "job:t/train@ex:t")
    candidates = ["job:t/train@ex:tc", "job:t/train@ex:tb", "job:t/train@ex:ta"]
    assert caught.value.detail == {"candidates": candidates}
    assert all(c in caught.value.message for c in candidates)
    with pytest.raises(AmbiguousIdentifier, match="raw_a@b3:a2, dataset:file://h/raw_a@b3:a1"):
        resolve_ref(store, "b3:a")
    # A longer prefix, or the whole version, is one.
    assert str(resolve_ref(store, "job:t/train@ex:tb")) == "job:t/train@ex:tb"
    assert str(resolve_ref(store, "b3:a1")) == "dataset:file://h/raw_a@b3:a1"
    assert str(resolve_ref(store, "ex:ta…")) == "job:t/train@ex:ta"
    with pytest.raises(NotFound, match="no version b3:zz"):
        resolve_ref(store, "b3:zz")


def test_run_ids_name_their_execution(store: SqlStore) -> None:
    assert str(resolve_ref(store, uid(7))) == "job:t/score@ex:s1"
    assert str(resolve_ref(store, uid(8).upper())) == "job:t/score@ex:s1"
    with pytest.raises(NotFound, match="no run"):
        resolve_ref(store, uid(99))
    # A run that recorded no data (the failed train) has no lineage to show.
    with pytest.raises(NotFound, match="recorded no inputs or outputs"):
        resolve_ref(store, uid(9))


def test_job_names_and_tree_labels(store: SqlStore) -> None:
    assert str(resolve_ref(store, "evaluate")) == "job:t/evaluate@ex:eb"
    assert str(resolve_ref(store, "evaluate ex:ea")) == "job:t/evaluate@ex:ea"
    assert str(resolve_ref(store, "/raw_a b3:a1")) == "dataset:file://h/raw_a@b3:a1"
    assert str(resolve_ref(store, "…/raw_a b3:a1")) == "dataset:file://h/raw_a@b3:a1"
    assert str(resolve_ref(store, "file://h/raw_a")) == "dataset:file://h/raw_a@b3:a2"


def test_log_takes_a_job_in_any_form(store: SqlStore) -> None:
    by_name = [entry["run_id"] for entry in log(store, job="train").runs]
    assert by_name
    for form in ("t/train", "job:t/train", "job:t:train", "job:t/train@ex:ta", "t/train@ex:tb"):
        assert [entry["run_id"] for entry in log(store, job=form).runs] == by_name, form
    with pytest.raises(NotFound, match="no job named 'dataset:file://h/raw_a'"):
        log(store, job="dataset:file://h/raw_a")
