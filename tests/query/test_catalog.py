"""The catalog listings on the hand-built pipeline of tests.support.graphs: known answers."""

from __future__ import annotations

import orjson
import pytest
from tests.support.events import uid
from tests.support.graphs import NS
from tests.support.live import PRODUCER

from threadline.errors import NotFound, UsageError
from threadline.query import catalog
from threadline.query.catalog import VersionRef
from threadline.store.sql import SqlStore

DATASETS = [
    "/clean",
    "/eval_a",
    "/eval_b",
    "/feat",
    "/holidays",
    "/model_a",
    "/model_b",
    "/model_c",
    "/preds",
    "/raw_a",
    "/raw_b",
    "/unrelated",
]
#: Runs by latest activity (started, else last event), newest first.
RUNS_NEWEST_FIRST = [12, 11, 10, 8, 7, 6, 5, 9, 4, 3, 2, 1]


def test_namespaces_are_every_namespace_a_node_lives_in(store: SqlStore) -> None:
    page = catalog.namespaces(store)
    assert page.total == 2
    assert [ns.name for ns in page.items] == [NS, "t"]
    assert page.to_dict()["items"][1] == {
        "name": "t",
        "created": "2026-01-01T00:00:00.000000Z",
        "updated": "2026-01-07T02:00:00.000000Z",
    }
    assert catalog.namespace(store, "t") == page.items[1]
    assert [ns.name for ns in catalog.namespaces(store, limit=1, offset=1).items] == ["t"]
    with pytest.raises(NotFound, match="no namespace 'nope'"):
        catalog.namespace(store, "nope")


def test_datasets_by_name_with_their_newest_version(store: SqlStore) -> None:
    page = catalog.datasets(store, NS)
    assert page.total == len(DATASETS)
    assert [d.node.name for d in page.items] == DATASETS
    clean = catalog.dataset(store, NS, "/clean")
    assert clean.current is not None
    assert clean.current.version == "b3:c2"
    assert clean.node.kind == "dataset"
    paged = catalog.datasets(store, NS, limit=2, offset=3)
    assert (paged.total, [d.node.name for d in paged.items]) == (12, ["/feat", "/holidays"])
    # Every namespace: the job namespace holds no datasets.
    assert catalog.datasets(store).total == len(DATASETS)
    assert catalog.datasets(store, "t").total == 0
    with pytest.raises(NotFound, match="no dataset '/nope' in namespace 'file://h'"):
        catalog.dataset(store, NS, "/nope")


def test_dataset_versions_newest_first_with_the_run_that_wrote_each(store: SqlStore) -> None:
    page = catalog.dataset_versions(store, NS, "/clean")
    assert page.total == 2
    assert [v.version.version for v in page.items] == ["b3:c2", "b3:c1"]
    writers = [v.created_by.run_id if v.created_by else None for v in page.items]
    assert writers == [uid(10), uid(1)]
    # A raw input no run wrote.
    (raw,) = catalog.dataset_versions(store, NS, "/raw_b").items
    assert raw.created_by is None
    # preds@p1 was written by two runs of one execution: the latest activity wins.
    (preds,) = catalog.dataset_versions(store, NS, "/preds").items
    assert preds.created_by is not None
    assert preds.created_by.run_id == uid(8)


def test_jobs_with_their_newest_execution_and_latest_runs(store: SqlStore) -> None:
    page = catalog.jobs(store, "t")
    assert [j.node.name for j in page.items] == ["evaluate", "features", "ingest", "score", "train"]
    score = catalog.job(store, "t", "score")
    assert score.current is not None
    assert score.current.version == "ex:s1"
    assert score.inputs == [
        VersionRef(NS, "/model_b", "b3:mb"),
        VersionRef(NS, "/unrelated", "b3:u1"),
    ]
    assert score.outputs == [VersionRef(NS, "/preds", "b3:p1")]
    assert [r.run_id for r in score.latest_runs] == [uid(8), uid(7)]
    train = catalog.job(store, "t", "train")
    assert [r.run_id for r in train.latest_runs] == [uid(12), uid(9), uid(4), uid(3)]
    assert train.latest_runs[1].state == "FAIL"
    with pytest.raises(NotFound, match="no job 'nope' in namespace 't'"):
        catalog.job(store, "t", "nope")


def test_a_job_never_run_lists_what_its_job_event_declared(store: SqlStore) -> None:
    store.append_batch(
        [
            {
                "eventTime": "2026-01-08T00:00:00Z",
                "job": {"namespace": "t", "name": "declared"},
                "inputs": [{"namespace": NS, "name": "/preds"}],
                "outputs": [{"namespace": "kafka://b:9092", "name": "topic"}],
                "producer": PRODUCER,
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
            }
        ]
    )
    declared = catalog.job(store, "t", "declared")
    assert declared.current is None
    assert declared.latest_runs == []
    assert declared.inputs == [VersionRef(NS, "/preds", "")]
    assert declared.outputs == [VersionRef("kafka://b:9092", "topic", "")]
    assert declared.to_dict()["inputs"] == [{"namespace": NS, "name": "/preds", "version": None}]


def test_runs_latest_activity_first(store: SqlStore) -> None:
    every = catalog.runs(store)
    assert every.total == 12
    assert [r.run_id for r in every.items] == [uid(n) for n in RUNS_NEWEST_FIRST]
    assert catalog.runs(store, "t").total == 12
    assert catalog.runs(store, NS).total == 0
    train = catalog.runs(store, "t", "train", limit=2, offset=1)
    assert (train.total, [r.run_id for r in train.items]) == (4, [uid(9), uid(4)])
    with pytest.raises(NotFound):
        catalog.runs(store, "t", "nope")
    with pytest.raises(UsageError, match="which namespace"):
        catalog.runs(store, job="train")


def test_a_run_with_what_its_execution_read_and_wrote(store: SqlStore) -> None:
    run = catalog.run(store, uid(7))
    assert run.job == VersionRef("t", "score", "")
    assert run.job_version == VersionRef("t", "score", "ex:s1")
    assert run.outputs == [VersionRef(NS, "/preds", "b3:p1")]
    body = run.to_dict()
    assert body["state"] == "COMPLETE"
    assert body["ended"] == "2026-01-06T00:00:00.000000Z"
    assert body["facets"]["threadline_context"]["user"] == "ana"
    # The failed run recorded no data: no execution.
    failed = catalog.run(store, uid(9))
    assert (failed.job_version, failed.inputs, failed.outputs) == (None, [], [])
    with pytest.raises(NotFound, match="no run 'nope'"):
        catalog.run(store, "nope")


def test_node_lineage_walks_both_ways_at_node_level(store: SqlStore) -> None:
    names = [("file:", "//h:/preds"), (NS, "/preds")]  # the first reading is not recorded
    graph = catalog.node_lineage(store, "dataset", names, 1)
    assert graph is not None
    assert graph.start.name == "/preds"
    assert sorted(d.node.name for d in graph.datasets) == ["/model_b", "/preds", "/unrelated"]
    # train wrote model_b and evaluate read it: one job hop away is three edges.
    assert sorted(j.node.name for j in graph.jobs) == ["evaluate", "score", "train"]
    ids = {n.node.id: n.node.name for n in [*graph.datasets, *graph.jobs]}
    assert {(ids[a], ids[b], r) for a, b, r in graph.edges} == {
        ("/model_b", "score", "input"),
        ("/unrelated", "score", "input"),
        ("score", "/preds", "output"),
        ("train", "/model_b", "output"),
        ("/model_b", "evaluate", "input"),
    }
    whole = catalog.node_lineage(store, "dataset", [(NS, "/preds")], 20)
    assert whole is not None
    assert len(whole.datasets) == len(DATASETS)
    assert catalog.node_lineage(store, "job", [(NS, "/preds")], 1) is None


def test_every_row_is_json(store: SqlStore) -> None:
    for page in (
        catalog.namespaces(store),
        catalog.datasets(store),
        catalog.dataset_versions(store, NS, "/clean"),
        catalog.jobs(store),
        catalog.runs(store),
    ):
        body = page.to_dict()
        assert body["total"] == len(body["items"])
        orjson.dumps(body)


def test_newest_seq_follows_the_log(store: SqlStore) -> None:
    assert catalog.newest_seq(store) == store.counts()["events"]
