"""The catalog questions behind the rest of Marquez's read API, on SQLite and PostgreSQL: search
(:mod:`threadline.query.catalog.name_search`), the event log by time, job versions, upstream
runs, column lineage, sources and tags, with known answers on the catalog of
:mod:`tests.support.marquez_data`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.events import uid
from tests.support.graphs import BACKENDS, NS, day, ds, run_event
from tests.support.marquez_data import (
    ENRICH,
    LOAD,
    MARQUEZ,
    REPORT,
    STREAMS,
    WAREHOUSE,
    catalog_events,
)
from tests.support.pg import fresh_database

from threadline.errors import NotFound, UsageError
from threadline.model.times import parse_moment
from threadline.query import catalog
from threadline.query.catalog import FieldRef
from threadline.store import open_store
from threadline.store.sql import SqlStore

APPLES = MARQUEZ / "apples"


def _run_id(name: str) -> str:
    run_id: str = json.loads((APPLES / name).read_text())["run"]["runId"]
    return run_id


@pytest.fixture(scope="module", params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqlStore]:
    """The whole catalog in one store per backend (the questions only read)."""
    if request.param == "sqlite":
        with open_store(tmp_path_factory.mktemp("catalog") / "lineage.db") as opened:
            opened.append_batch(catalog_events())
            yield opened
        return
    with fresh_database("tl_catalog") as url, open_store(url) as opened:
        opened.append_batch(catalog_events())
        yield opened


# --- search ---------------------------------------------------------------------------------


def _names(page: catalog.Page[catalog.SearchHit]) -> list[tuple[str, str]]:
    return [(hit.type, hit.name) for hit in page.items]


def test_search_matches_any_part_of_a_name_in_any_case(store: SqlStore) -> None:
    lower = catalog.search(store, "apple", limit=100)
    assert _names(lower) == _names(catalog.search(store, "APPLE", limit=100))
    assert lower.total == len(lower.items) == 10
    assert ("dataset", "crab.apples") in _names(lower)
    assert ("job", "prepare_apple_pie") in _names(lower)
    assert [hit.name for hit in lower.items] == sorted(hit.name for hit in lower.items)


def test_search_wildcards_filters_and_paging(store: SqlStore) -> None:
    assert _names(catalog.search(store, "apple_pie")) == [
        ("dataset", "apple.pie"),
        ("job", "prepare_apple_pie"),
    ]
    assert _names(catalog.search(store, "prepare%pie")) == [("job", "prepare_apple_pie")]
    jobs = catalog.search(store, "apple", type_="job", limit=100)
    assert {hit.type for hit in jobs.items} == {"job"}
    assert jobs.total == 4
    cupboard = catalog.search(store, "a", namespace="cupboard", limit=100)
    assert _names(cupboard) == [("dataset", "apple.vinegar"), ("dataset", "sugar")]
    page = catalog.search(store, "apple", limit=3, offset=2)
    assert page.total == 10
    assert page.items == catalog.search(store, "apple", limit=100).items[2:5]


def test_search_by_update_newest_first_and_by_day(store: SqlStore) -> None:
    newest = catalog.search(store, "apple", sort="updated_at", limit=100)
    times = [hit.updated_us for hit in newest.items]
    assert times == sorted(times, reverse=True)
    october = catalog.day_start_us("2020-10-15", "after")
    late = catalog.search(store, "apple", updated_from_us=october, limit=100)
    early = catalog.search(store, "apple", updated_before_us=october, limit=100)
    assert late.total + early.total == 10
    assert all(hit.updated_us >= october for hit in late.items)
    assert all(hit.updated_us < october for hit in early.items)
    assert ("dataset", "apple.vinegar") in _names(late)


@pytest.mark.parametrize(
    ("pattern", "type_", "message"),
    [("", None, "empty"), ("apple", "table", "dataset, job")],
)
def test_search_refuses_a_bad_question(
    store: SqlStore, pattern: str, type_: str | None, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        catalog.search(store, pattern, type_=type_)


def test_a_day_must_be_a_day() -> None:
    assert catalog.day_start_us("1970-01-02", "before") == 86_400_000_000
    with pytest.raises(UsageError, match="before '2020-13-01' is not a day"):
        catalog.day_start_us("2020-13-01", "before")


# --- the event log by time ------------------------------------------------------------------


def test_events_by_time_windows_orders_and_pages(store: SqlStore) -> None:
    everything = catalog.events_by_time(store, limit=1000)
    assert everything.total == len(catalog_events())
    times = [parse_moment(json.loads(body)["eventTime"]) for body in everything.items]
    assert times == sorted(times, reverse=True)

    after = parse_moment("2026-03-01T00:00:00Z")
    before = parse_moment("2026-03-03T01:00:00Z")  # the report run: excluded, bound is open
    window = catalog.events_by_time(
        store, after_us=after, before_us=before, newest_first=False, limit=1000
    )
    bodies = [json.loads(body) for body in window.items]
    assert [(b["run"]["runId"], b["eventType"]) for b in bodies] == [
        (LOAD, "START"),
        (LOAD, "COMPLETE"),
        (ENRICH, "START"),
        (ENRICH, "COMPLETE"),
    ]
    second = catalog.events_by_time(
        store, after_us=after, before_us=before, newest_first=False, limit=2, offset=1
    )
    assert second.total == 4
    assert list(second.items) == list(window.items[1:3])


# --- job versions ---------------------------------------------------------------------------


def test_job_versions_are_its_executions_newest_first(store: SqlStore) -> None:
    train = catalog.job_versions(store, "t", "train")
    assert [v.version.version for v in train.items] == ["ex:tc", "ex:tb", "ex:ta"]
    assert train.total == 3  # the failed run executed nothing
    tb = train.items[1]
    assert [ref.name for ref in tb.inputs] == ["/feat", "/holidays"]
    assert [ref.name for ref in tb.outputs] == ["/model_b"]
    assert tb.latest_run is not None
    assert tb.latest_run.run_id == uid(4)
    score = catalog.job_version(store, "t", "score", "ex:s1")
    assert score.latest_run is not None
    assert score.latest_run.run_id == uid(8)
    with pytest.raises(NotFound, match="no version 'ex:nope' of job 'score'"):
        catalog.job_version(store, "t", "score", "ex:nope")
    with pytest.raises(NotFound, match="no job 'nope'"):
        catalog.job_versions(store, "t", "nope")


def test_a_dataset_version_by_its_token(store: SqlStore) -> None:
    found = catalog.dataset_version(store, NS, "/clean", "b3:c1")
    assert found.created_by is not None
    assert found.created_by.run_id == uid(1)
    with pytest.raises(NotFound, match="no version 'b3:zz' of dataset '/clean'"):
        catalog.dataset_version(store, NS, "/clean", "b3:zz")


# --- upstream runs --------------------------------------------------------------------------


def test_upstream_runs_follow_what_each_run_read(store: SqlStore) -> None:
    pie, filling, picking = (
        _run_id(name)
        for name in ("9_apple_pie.json", "8_apple_filling.json", "7_pick_different_apples.json")
    )
    runs = catalog.upstream_runs(store, pie)
    assert [entry.run.run_id for entry in runs] == [pie, filling, picking]
    by_name = {item.version.name: item.produced_by for item in runs[1].inputs}
    # The apples the second filling used are the second picking's, not the first's.
    assert by_name == {"apples": picking, "cinnamon": None, "sugar": None}
    assert [entry.run.run_id for entry in catalog.upstream_runs(store, pie, depth=0)] == [pie]
    warehouse = catalog.upstream_runs(store, REPORT)
    assert [entry.run.run_id for entry in warehouse] == [REPORT, ENRICH, LOAD]
    with pytest.raises(NotFound):
        catalog.upstream_runs(store, "00000000-0000-0000-0000-000000000000")


def test_a_run_is_never_credited_with_data_written_after_the_reader_started(
    tmp_path: Path,
) -> None:
    """preds@p1 was written by the same execution twice (day 6 at 00:00 and 12:00): a reader
    at 06:00 got the first run's, a reader at 18:00 the second's."""
    model = ds("/model", "b3:m")
    preds = ds("/preds", "b3:p1", "predictions")
    events = [
        run_event("score", uid(1), [model], [preds], when=day(6), execution="ex:s"),
        run_event("score", uid(2), [model], [preds], when=day(6, 12), execution="ex:s"),
        run_event("report", uid(3), [preds], [ds("/r1", "b3:r1")], when=day(6, 6)),
        run_event("report", uid(4), [preds], [ds("/r2", "b3:r2")], when=day(6, 18)),
    ]
    with open_store(tmp_path / "lineage.db") as store:
        store.append_batch(events)
        early = catalog.upstream_runs(store, uid(3))
        late = catalog.upstream_runs(store, uid(4))
    assert early[0].inputs[0].produced_by == uid(1)
    assert [e.run.run_id for e in early] == [uid(3), uid(1)]
    assert late[0].inputs[0].produced_by == uid(2)


# --- column lineage -------------------------------------------------------------------------


def _field(dataset: str, field: str) -> FieldRef:
    return FieldRef(WAREHOUSE, dataset, field)


def test_column_lineage_upstream_of_a_dataset(store: SqlStore) -> None:
    graph = catalog.column_lineage(store, "dataset", [(WAREHOUSE, "public.daily_report")])
    assert graph is not None
    assert [node.ref for node in graph.nodes] == [
        _field("public.daily_report", "day"),
        _field("public.daily_report", "total"),
        _field("public.order_facts", "total"),
        _field("public.orders", "total"),
    ]
    assert graph.edges == [
        (_field("public.order_facts", "total"), _field("public.daily_report", "total")),
        (_field("public.orders", "total"), _field("public.order_facts", "total")),
    ]
    total = graph.nodes[1]
    assert total.field_type == "DECIMAL"
    assert total.version == f"run:{REPORT}"
    assert [(i.ref, i.type, i.description) for i in total.inputs] == [
        (_field("public.order_facts", "total"), "DIRECT", "copied")
    ]
    shallow = catalog.column_lineage(
        store, "dataset", [(WAREHOUSE, "public.daily_report")], depth=0
    )
    assert shallow is not None
    assert len(shallow.nodes) == 2
    assert shallow.edges == []


def test_column_lineage_of_one_column_and_downstream(store: SqlStore) -> None:
    customer = catalog.column_lineage(
        store, "dataset", [(WAREHOUSE, "public.order_facts")], field="customer"
    )
    assert customer is not None
    assert {node.ref for node in customer.nodes} == {
        _field("public.order_facts", "customer"),
        _field("public.customers", "name"),
        _field("public.orders", "email"),
    }
    down = catalog.column_lineage(
        store, "dataset", [(WAREHOUSE, "public.orders")], field="total", with_downstream=True
    )
    assert down is not None
    assert [node.ref for node in down.nodes] == [
        _field("public.daily_report", "total"),
        _field("public.order_facts", "total"),
        _field("public.orders", "total"),
    ]
    upstream_only = catalog.column_lineage(
        store, "dataset", [(WAREHOUSE, "public.orders")], field="total"
    )
    assert upstream_only is not None
    assert len(upstream_only.nodes) == 1


def test_column_lineage_of_a_job_and_of_nothing(store: SqlStore) -> None:
    enrich = catalog.column_lineage(store, "job", [("shop", "enrich")], depth=1)
    assert enrich is not None
    assert {n.ref.dataset for n in enrich.nodes} == {
        "public.order_facts",
        "public.orders",
        "public.customers",
    }
    assert catalog.column_lineage(store, "dataset", [("nowhere", "nothing")]) is None
    with pytest.raises(NotFound, match="no field 'nope'"):
        catalog.column_lineage(store, "dataset", [(WAREHOUSE, "public.orders")], field="nope")


# --- sources and tags -----------------------------------------------------------------------


def test_sources_are_data_source_facets_else_namespaces(store: SqlStore) -> None:
    page = catalog.sources(store, limit=1000)
    names = [source.name for source in page.items]
    assert names == sorted(names)
    assert page.total == len(names)
    assert "warehouse" in names
    assert STREAMS in names
    assert WAREHOUSE not in names
    warehouse = catalog.source(store, "warehouse")
    assert warehouse.connection_url == "postgresql://warehouse:5432/shop"
    assert warehouse.created_us == parse_moment("2026-03-01T01:00:00Z")
    assert warehouse.updated_us == parse_moment("2026-03-03T01:00:00Z")
    assert catalog.source(store, STREAMS).connection_url == STREAMS
    with pytest.raises(NotFound, match="no source 'nope'"):
        catalog.source(store, "nope")


def test_tags_in_use(store: SqlStore) -> None:
    # PII tags a column of public.orders, tier:gold the table, pii is a classification label.
    assert [str(tag) for tag in catalog.tags(store).items] == ["PII", "pii", "tier:gold"]
    assert catalog.tags(store, limit=1, offset=1).items == ["pii"]


def test_tag_names_of_facets() -> None:
    facets = {
        "tags": {
            "tags": [
                {"key": "tier", "value": "gold"},
                {"key": "PII", "value": "true", "field": "email"},
                {"key": "SENSITIVE", "value": "TRUE"},
                {"key": "flag", "value": ""},
                {"value": "no key"},
                "not an entry",
            ]
        },
        "threadline_classification": {"labels": ["pii"], "inherited": ["secret"]},
    }
    assert catalog.tag_names(facets) == ["SENSITIVE", "flag", "pii", "secret", "tier:gold"]
    assert catalog.field_tag_names(facets) == {"email": ["PII"]}
    assert catalog.tag_names({"tags": "broken"}) == []


# --- the current version --------------------------------------------------------------------


def _touch(
    job: str, run: str, when: str, inputs: list[str], outputs: list[str]
) -> dict[str, object]:
    schema = {"fields": [{"name": "id", "type": "INTEGER"}]}
    return {
        **run_event(job, run, [], [], when=when),
        "inputs": [{"namespace": "db", "name": name} for name in inputs],
        "outputs": [
            {"namespace": "db", "name": name, "facets": {"schema": schema}} for name in outputs
        ],
    }


@pytest.mark.parametrize(
    "events",
    [
        # Marquez's event_full: a run reads and writes one table, neither side versioned.
        [_touch("copy", uid(1), day(1), ["t"], ["t"])],
        # A reader's event arrives before the writer's, which happened earlier.
        [_touch("read", uid(2), day(2), ["t"], []), _touch("write", uid(1), day(1), [], ["t"])],
    ],
    ids=["same-event", "out-of-order"],
)
def test_a_recorded_version_is_current_rather_than_the_unversioned_placeholder(
    tmp_path: Path, events: list[dict[str, object]]
) -> None:
    with open_store(tmp_path / "lineage.db") as store:
        for event in events:
            store.append_batch([event])
        dataset = catalog.dataset(store, "db", "t")
        versions = {v.version.version for v in catalog.dataset_versions(store, "db", "t").items}
    assert "v:unversioned" in versions
    assert dataset.current is not None
    assert dataset.current.version == f"run:{uid(1)}"
    assert catalog.field_types(dataset.facets) == {"id": "INTEGER"}


def test_a_dataset_only_ever_read_keeps_its_placeholder(tmp_path: Path) -> None:
    with open_store(tmp_path / "lineage.db") as store:
        store.append_batch([_touch("read", uid(1), day(1), ["t"], [])])
        dataset = catalog.dataset(store, "db", "t")
    assert dataset.current is not None
    assert dataset.current.version == "v:unversioned"


@pytest.mark.parametrize("backend", BACKENDS)
def test_downstream_columns_of_a_dataset_named_with_like_wildcards_and_quotes(
    backend: str, tmp_path: Path
) -> None:
    """The downstream search narrows by the dataset's name in the stored JSON text: its ``%``,
    ``_``, quotes and backslashes are literal there, and a lookalike name is not a match."""
    odd, lookalike = 'we"ird_%\\name', "weXird_Xname"

    def lineage_to(output: str, source: str) -> dict[str, object]:
        facet = {
            "fields": {"c": {"inputFields": [{"namespace": "db", "name": source, "field": "c"}]}}
        }
        event = _touch(f"make {output}", uid(len(output)), day(1), [source], [output])
        event["outputs"][0]["facets"]["columnLineage"] = facet  # type: ignore[index]
        return event

    source = _touch("load", uid(99), day(1), [], [odd])
    source["outputs"][0]["facets"]["schema"] = {"fields": [{"name": "c", "type": "TEXT"}]}  # type: ignore[index]
    events = [source, lineage_to("from_odd", odd), lineage_to("from_lookalike_", lookalike)]

    def question(store: SqlStore) -> list[FieldRef]:
        store.append_batch(events)
        graph = catalog.column_lineage(
            store, "dataset", [("db", odd)], field="c", with_downstream=True
        )
        assert graph is not None
        return [node.ref for node in graph.nodes]

    if backend == "sqlite":
        with open_store(tmp_path / "lineage.db") as store:
            refs = question(store)
    else:
        with fresh_database("tl_catalog") as url, open_store(url) as store:
            refs = question(store)
    assert refs == [FieldRef("db", "from_odd", "c"), FieldRef("db", odd, "c")]


def test_retagged_adds_and_removes_one_tag_and_says_when_nothing_changes() -> None:
    entries = [
        {"key": "tier", "value": "gold"},
        {"key": "PII", "value": "true", "field": "email"},
    ]
    added = catalog.retagged(entries, "PII", add=True)
    assert added == [*entries, {"key": "PII", "value": "true", "source": "USER"}]
    assert catalog.retagged(entries, "PII", "email", add=True) is None  # the column has it
    assert catalog.retagged(entries, "PII", "name", add=True) == [
        *entries,
        {"key": "PII", "value": "true", "source": "USER", "field": "name"},
    ]
    assert catalog.retagged(entries, "tier:gold", add=False) == entries[1:]  # by its name
    assert catalog.retagged(entries, "tier", add=False) == entries[1:]  # or its key
    assert catalog.retagged(entries, "PII", add=False) is None  # only the column has it
    assert catalog.retagged(entries, "PII", "email", add=False) == entries[:1]


def test_version_uuids_are_stable_and_found_back(store: SqlStore) -> None:
    first = catalog.version_uuid(NS, "/clean", "b3:c1")
    assert first == catalog.version_uuid(NS, "/clean", "b3:c1")
    assert len({first, catalog.version_uuid(NS, "/clean", "b3:c2")}) == 2
    assert catalog.version_uuid(NS, "/feat", "b3:c1") != first  # per node
    by_uuid = catalog.dataset_version(store, NS, "/clean", first.upper())
    assert by_uuid.version.version == "b3:c1"
    job = catalog.job_version(store, "t", "train", catalog.version_uuid("t", "train", "ex:tb"))
    assert job.version.version == "ex:tb"
    with pytest.raises(NotFound):
        catalog.dataset_version(store, NS, "/feat", first)
