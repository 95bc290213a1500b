"""The store contract, written once and run against every backend.

A backend's test module subclasses :class:`StoreContract` and provides only the ``store``
fixture: a fresh, empty store.  Everything else (a second handle on the same store, raw SQL
on it) is derived here from ``store.url``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import itertools
import json
import multiprocessing
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from tests.support.data import OPENLINEAGE
from tests.support.events import dataset, event, uid

from threadline.errors import IntegrityError, InvalidEvent, SchemaTooNew
from threadline.integrity.chain import GENESIS, link, verify_chain
from threadline.model.canonical import canonical_json
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.base import Cursor
from threadline.store.id_cache import ENTRY_OVERHEAD
from threadline.store.prepared import prepare_event
from threadline.store.projector import PAGE, Projector
from threadline.store.sql import SqlStore

EXAMPLES = OPENLINEAGE / "examples" / "client"
GRAPH = ("nodes", "versions", "edges")


def select_all(store: SqlStore, table: sa.Table) -> list[Any]:
    return list(store.read(lambda conn: conn.execute(sa.select(table)).all()))


def snapshot(store: SqlStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: to prove a store was left untouched."""
    return {
        table.name: sorted(tuple(row) for row in select_all(store, table))
        for table in s.metadata.sorted_tables
    }


def natural_graph(store: SqlStore) -> dict[str, list[tuple[Any, ...]]]:
    """The derived tables with row ids replaced by the natural keys they stand for: two
    stores that chose ids in another order compare equal."""
    nodes = {r.id: (r.type, r.namespace, r.name) for r in select_all(store, s.nodes)}
    versions = {r.id: (nodes[r.node_id], r.version) for r in select_all(store, s.versions)}
    return {
        "nodes": sorted(
            (*nodes[r.id], r.kind, r.facets, r.first_seen_us, r.updated_us)
            for r in select_all(store, s.nodes)
        ),
        "versions": sorted(
            (*versions[r.id], r.facets, r.first_seen_us, r.last_seen_us, r.first_seq)
            for r in select_all(store, s.versions)
        ),
        "edges": sorted(
            (versions[r.src], versions[r.dst], r.relation, r.created_us, r.first_seq)
            for r in select_all(store, s.edges)
        ),
        "runs": sorted(
            (
                r.run_id,
                nodes[r.job_node_id],
                versions.get(r.execution_id),
                r.state,
                r.state_time_us,
                r.facets,
                r.first_seq,
                r.last_seq,
            )
            for r in select_all(store, s.runs)
        ),
    }


@contextlib.contextmanager
def raw_sql(store: SqlStore) -> Iterator[sa.Connection]:
    """A transaction on the store's database that bypasses the store: the tamperer's view."""
    engine = sa.create_engine(store.url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


#: Seconds a writer of the concurrency test may take (~4 s here, 8 with the machine loaded).
WRITER_DEADLINE = 150


def append_worker(url: str, worker: int, count: int) -> None:
    """One writer process: its own runs and outputs, inputs shared with every other writer."""
    # Past the deadline the writer prints every thread's stack to the test's captured stderr
    # and exits (code 1): a failure then shows where it stood, not only that it was late.
    faulthandler.dump_traceback_later(WRITER_DEADLINE, exit=True)
    store = open_store(url)
    try:
        for start in range(0, count, 100):
            store.append_batch(
                [
                    event(
                        worker * 1_000_000 + i,
                        job=f"w{worker}",
                        when=f"2026-01-01T00:00:{i % 60:02d}Z",
                        inputs=[dataset(f"/shared/{i % 7}", f"b3:{i % 7:02x}")],
                        outputs=[dataset(f"/w{worker}/{i}", f"b3:{worker:02x}{i:06x}")],
                    )
                    for i in range(start, min(count, start + 100))
                ]
            )
    finally:
        store.close()


class StoreContract:
    __test__ = False

    @pytest.fixture
    def opener(self, store: SqlStore) -> Callable[[], SqlStore]:
        """Opens another handle on the same store (a second process, in effect)."""
        url = store.url
        return lambda: open_store(url)

    # --- idempotency and atomicity -------------------------------------------------------

    def test_same_events_are_stored_once(self, store: SqlStore) -> None:
        batch = [
            event(1, inputs=[dataset("/a", "b3:a")], outputs=[dataset("/b", "b3:b")]),
            event(2),
        ]
        first = store.append_batch(batch)
        assert (first.appended, first.duplicates, first.head_seq) == (2, 0, 2)
        before = snapshot(store)
        second = store.append_batch(batch)
        assert (second.appended, second.duplicates, second.head_seq) == (0, 2, 2)
        assert snapshot(store) == before

    def test_a_fresh_handle_also_stores_them_once(
        self, store: SqlStore, opener: Callable[[], SqlStore]
    ) -> None:
        # Another process knows none of the rows: every node and version comes from the DB.
        batch = [
            event(i, inputs=[dataset("/a", "b3:a")], outputs=[dataset(f"/o{i}")]) for i in (1, 2)
        ]
        store.append_batch(batch)
        before = snapshot(store)
        with opener() as other:
            assert other.append_batch(batch).duplicates == 2
            assert snapshot(store) == before
            assert (
                other.append_batch([*batch, event(3, inputs=[dataset("/a", "b3:a")])]).appended == 1
            )
        counts = store.counts()
        assert (counts["events"], counts["nodes"], counts["versions"]) == (3, 4, 6)

    def test_duplicates_inside_one_batch(self, store: SqlStore) -> None:
        result = store.append_batch([event(1), event(2), event(1), event(1)])
        assert (result.appended, result.duplicates) == (2, 2)
        assert store.counts()["events"] == 2
        assert verify_chain(store.iter_chain()).ok

    def test_partly_stored_batch_appends_only_the_new_events(self, store: SqlStore) -> None:
        store.append_batch([event(1, outputs=[dataset("/x", "b3:1")])])
        result = store.append_batch([event(1, outputs=[dataset("/x", "b3:1")]), event(2)])
        assert (result.appended, result.duplicates, result.head_seq) == (1, 1, 2)
        runs = {r.run_id: (r.first_seq, r.last_seq) for r in select_all(store, s.runs)}
        assert runs == {uid(1): (1, 1), uid(2): (2, 2)}

    def test_stored_events_amid_new_ones_leave_one_unbroken_chain(self, store: SqlStore) -> None:
        # A batch is inserted before anyone looks for stored events; one found on the way
        # means the batch is linked again without it, within the chunk it came in.
        store.append_batch([event(2), event(5)])
        result = store.append_batch([event(i) for i in range(1, 8)])
        assert (result.appended, result.duplicates, result.head_seq) == (5, 2, 7)
        chunks = store.append_chunks([[event(8), event(9)], [event(10), event(3), event(11)]])
        assert (chunks.appended, chunks.duplicates, chunks.head_seq) == (4, 1, 11)
        records = list(store.iter_chain())
        assert [r.seq for r in records] == list(range(1, 12))
        assert [orjson.loads(r.body)["run"]["runId"] for r in records] == [
            uid(i) for i in (2, 5, 1, 3, 4, 6, 7, 8, 9, 10, 11)
        ]
        assert verify_chain(records).ok
        assert len(select_all(store, s.runs)) == 11

    def test_prepared_events_are_stored_as_the_events_they_were_made_from(
        self, store: SqlStore, opener: Callable[[], SqlStore]
    ) -> None:
        # The server prepares a batch's events as it reviews them; a store given them
        # prepared, or mixed with plain ones, writes the records the plain events give.
        events = [event(i, outputs=[dataset(f"/p{i}", f"b3:{i}")]) for i in range(1, 7)]
        given = [prepare_event(e) if i % 2 else e for i, e in enumerate(events[:4])]
        result = store.append_batch([*given, prepare_event(events[1])])
        assert (result.appended, result.duplicates) == (4, 1)
        with opener() as other:
            plain = other.append_batch(events)
        assert (plain.appended, plain.duplicates) == (2, 4)
        records = list(store.iter_chain())
        assert [r.body for r in records] == [canonical_json(e) for e in events]
        assert verify_chain(records).ok
        e = s.events.c
        columns = [e.event_kind, e.event_type, e.run_id, e.job_namespace, e.job_name]
        stored = store.read(lambda conn: conn.execute(sa.select(*columns).order_by(e.seq)).all())
        assert [tuple(row) for row in stored] == [
            ("run", "COMPLETE", uid(i), ev["job"]["namespace"], ev["job"]["name"])
            for i, ev in enumerate(events, start=1)
        ]
        assert len(select_all(store, s.runs)) == 6

    def test_a_bad_event_rejects_the_whole_batch(self, store: SqlStore) -> None:
        store.append_batch([event(1)])
        before = snapshot(store)
        bad = {**event(3), "eventTime": "yesterday"}
        with pytest.raises(InvalidEvent, match="event #1 of the batch"):
            store.append_batch([event(2), bad, event(4)])
        assert snapshot(store) == before

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda e: e.pop("job"),
            lambda e: e["run"].pop("runId"),
            lambda e: e.update(eventType="FINISHED"),
            lambda e: e.update(eventTime=17),
            lambda e: e["job"].update(name=None),
            lambda e: e["inputs"].append({"namespace": "file://h"}),
            lambda e: e["run"].update(facets={"nan": float("nan")}),
            lambda e: e["run"].update(facets={"big": 2**60}),
            lambda e: e.clear(),
        ],
        ids=[
            "no-job",
            "no-run-id",
            "unknown-type",
            "time-not-text",
            "null-name",
            "nameless-input",
            "nan",
            "unsafe-int",
            "empty",
        ],
    )
    def test_malformed_events_are_rejected(
        self, store: SqlStore, mutate: Callable[[dict[str, Any]], Any]
    ) -> None:
        body = event(2)
        mutate(body)
        with pytest.raises(InvalidEvent, match="event #1 of the batch"):
            store.append_batch([event(1), body])
        assert store.counts()["events"] == 0

    def test_a_failed_batch_leaves_the_store_usable(self, store: SqlStore) -> None:
        with pytest.raises(InvalidEvent):
            store.append_batch([event(1, outputs=[dataset("/o", "b3:1")]), {"run": 1}])
        store.append_batch([event(1, outputs=[dataset("/o", "b3:1")])])
        assert store.counts() == {"events": 1, "nodes": 2, "versions": 2, "edges": 1, "runs": 1}
        assert verify_chain(store.iter_chain()).ok

    def test_chunks_append_in_one_transaction_as_batches_one_after_another(
        self, store: SqlStore, tmp_path: Path
    ) -> None:
        events = [
            event(
                i,
                when=f"2026-01-01T00:00:{i:02d}Z",  # no ties on the newest version
                inputs=[dataset(f"/o{(i + 1) % 3}")],
                outputs=[dataset(f"/o{i % 3}", f"b3:{i}")],
            )
            for i in range(1, 8)
        ]
        # Chunks of 3, an event repeated across chunks.
        chunks = [events[:3], [*events[3:6], events[0]], events[6:]]
        with contextlib.closing(open_store(tmp_path / "batches.db")) as other:
            for chunk in chunks:
                other.append_batch(chunk)
            expected = natural_graph(other)
        # A projection cache that keeps two rows: the ids of the others are looked up.
        store.set_cache_budget(2 * ENTRY_OVERHEAD)
        result = store.append_chunks(iter(chunks))
        assert (result.appended, result.duplicates, result.head_seq) == (7, 1, 7)
        assert natural_graph(store) == expected
        assert store.verify().ok

    def test_a_bad_event_in_a_later_chunk_writes_nothing_and_is_named_in_the_whole(
        self, store: SqlStore
    ) -> None:
        chunks = [[event(1), event(2)], [event(3), {"run": 1}]]
        with pytest.raises(InvalidEvent, match="event #3 of the batch"):
            store.append_chunks(chunks)
        assert store.counts()["events"] == 0

    @pytest.mark.parametrize("kind", [{"a": 1}, ["model"], None, 3, "k" * 17, "a\0b"], ids=repr)
    def test_an_artifact_kind_the_store_cannot_hold_projects_as_a_dataset(
        self, store: SqlStore, kind: Any
    ) -> None:
        body = event(1, outputs=[dataset("/o", "b3:1")])
        body["outputs"][0]["facets"] = {"threadline_artifact": {"kind": kind}}
        assert store.append_batch([body]).appended == 1
        kinds = {r.name: r.kind for r in select_all(store, s.nodes) if r.type == "dataset"}
        assert kinds == {"/o": "dataset"}

    @pytest.mark.parametrize("job", ["https://example.com/producer", 3, ["j"]], ids=repr)
    def test_a_dataset_events_custom_job_field_stays_in_its_body(
        self, store: SqlStore, job: Any
    ) -> None:
        # A DatasetEvent has no job; a field of that name that is no job object is the
        # producer's own (found by tests/server/test_ingest_fuzz.py: it failed the batch).
        body = {
            "eventTime": "2021-11-03T10:53:52.427343Z",
            "producer": "https://example.com/producer",
            "schemaURL": "https://openlineage.io/spec/2-0-0/OpenLineage.json#/$defs/DatasetEvent",
            "dataset": {"namespace": "openlineage", "name": "name"},
            "job": job,
        }
        assert store.append_batch([body]).appended == 1
        assert {r.name for r in select_all(store, s.nodes)} == {"name"}
        assert store.verify().ok

    def test_a_name_of_500_kb_is_stored_whole_and_found_again(self, store: SqlStore) -> None:
        name = "/" + "".join(f"{i:08x}" for i in range(62_500))  # does not compress
        version = "b3:" + name[1:]
        store.append_batch([event(1, outputs=[dataset(name, version)])])
        store.append_batch([event(2, inputs=[dataset(name, version)])])
        with contextlib.closing(open_store(store.url)) as fresh:  # no cached ids
            fresh.append_batch([event(3, inputs=[dataset(name, version)])])
        nodes = [r for r in select_all(store, s.nodes) if r.type == "dataset"]
        assert [r.name for r in nodes] == [name]
        assert [r.version for r in select_all(store, s.versions) if r.node_id == nodes[0].id] == [
            version
        ]

    # --- run state whatever the order --------------------------------------------------------

    def test_run_state_does_not_depend_on_arrival_order(self, store: SqlStore) -> None:
        times = {
            "START": "2026-01-01T00:00:00Z",
            "RUNNING": "2026-01-01T00:00:05Z",
            "COMPLETE": "2026-01-01T00:01:00Z",
        }

        def run_event(run: int, kind: str) -> dict[str, Any]:
            facets = {kind.lower(): {"at": times[kind]}, "common": {"last": kind}}
            return event(run, kind, when=times[kind], run_facets=facets)

        # Every order one event per batch, the same with COMPLETE retried, and every order
        # as a single batch: each run (its own id) must end up the same.
        orders = [list(p) for p in itertools.permutations(times)]
        run = 0
        for order in orders:
            for kind in [*order, "COMPLETE"]:
                store.append_batch([run_event(run, kind)])
            store.append_batch([run_event(run + 1, kind) for kind in order])
            run += 2
        rows = select_all(store, s.runs)
        assert len(rows) == run
        assert {(r.state, r.started_us, r.ended_us, r.facets, r.execution_id) for r in rows} == {
            (
                "COMPLETE",
                1767225600_000000,
                1767225660_000000,
                orjson.dumps(
                    {
                        "complete": {"at": times["COMPLETE"]},
                        "running": {"at": times["RUNNING"]},
                        # per facet key, the event latest in event time wins
                        "common": {"last": "COMPLETE"},
                        "start": {"at": times["START"]},
                    },
                    option=orjson.OPT_SORT_KEYS,
                ).decode(),
                None,
            )
        }

    def test_same_batch_holds_start_and_complete(self, store: SqlStore) -> None:
        store.append_batch([event(8, "COMPLETE", when="2026-01-01T00:01:00Z"), event(8, "START")])
        (run,) = select_all(store, s.runs)
        assert (run.state, run.first_seq, run.last_seq) == ("COMPLETE", 1, 2)

    def test_a_failed_retry_after_success_keeps_the_latest_terminal_state(
        self, store: SqlStore
    ) -> None:
        store.append_batch([event(9, "START", when="2026-01-01T00:00:00Z")])
        store.append_batch([event(9, "FAIL", when="2026-01-01T00:02:00Z")])
        store.append_batch([event(9, "COMPLETE", when="2026-01-01T00:01:00Z")])
        (run,) = select_all(store, s.runs)
        assert (run.state, run.ended_us) == ("FAIL", 1767225720_000000)

    # --- projection ------------------------------------------------------------------------

    def test_inputs_execution_outputs(self, store: SqlStore) -> None:
        store.append_batch(
            [
                event(
                    1,
                    inputs=[dataset("/in", "b3:1")],
                    outputs=[dataset("/out", "b3:2", "model")],
                    run_facets={"threadline_execution": {"executionId": "ex:abc"}},
                )
            ]
        )
        versions = {v.id: v.version for v in select_all(store, s.versions)}
        edges = {(versions[e.src], versions[e.dst], e.relation) for e in select_all(store, s.edges)}
        assert edges == {("b3:1", "ex:abc", "input"), ("ex:abc", "b3:2", "output")}
        kinds = {n.name: n.kind for n in select_all(store, s.nodes)}
        assert kinds == {"/in": "dataset", "/out": "model", "job": "job"}
        (run,) = select_all(store, s.runs)
        assert versions[run.execution_id] == "ex:abc"

    def test_node_and_version_facets_merge_across_batches_and_handles(
        self, store: SqlStore, opener: Callable[[], SqlStore]
    ) -> None:
        owners = {"owners": [{"name": "ana"}]}
        store.append_batch([event(1, outputs=[dataset("/m", "b3:1", "model", schema={"a": 1})])])
        with opener() as other:  # another writer changes the node; our cache is now stale
            other.append_batch([event(2, inputs=[dataset("/m", "b3:1", ownership=owners)])])
        store.append_batch([event(3, inputs=[dataset("/m", "b3:1", tags={"t": 1})])])
        (node,) = [n for n in select_all(store, s.nodes) if n.name == "/m"]
        assert node.kind == "model"  # a later plain "dataset" never demotes it
        assert orjson.loads(node.facets) == {
            "threadline_artifact": {"kind": "model"},
            "ownership": owners,
            "tags": {"t": 1},
        }
        (version,) = [v for v in select_all(store, s.versions) if v.version == "b3:1"]
        assert set(orjson.loads(version.facets)) == {
            "version",
            "threadline_artifact",
            "schema",
            "ownership",
            "tags",
        }

    def test_version_seen_window_is_monotonic(self, store: SqlStore) -> None:
        store.append_batch([event(1, outputs=[dataset("/t", "b3:1")], when="2026-01-02T00:00:00Z")])
        store.append_batch([event(2, inputs=[dataset("/t", "b3:1")], when="2026-01-03T00:00:00Z")])
        store.append_batch([event(3, inputs=[dataset("/t", "b3:1")], when="2026-01-01T00:00:00Z")])
        (version,) = [v for v in select_all(store, s.versions) if v.version == "b3:1"]
        assert (version.first_seen_us, version.last_seen_us) == (
            1767225600_000000,
            1767398400_000000,
        )

    def test_unversioned_outputs_get_a_version_per_run(self, store: SqlStore) -> None:
        store.append_batch([event(1, outputs=[dataset("/t")]), event(2, outputs=[dataset("/t")])])
        (node,) = [n for n in select_all(store, s.nodes) if n.name == "/t"]
        versions = {v.version for v in select_all(store, s.versions) if v.node_id == node.id}
        assert versions == {f"run:{uid(1)}", f"run:{uid(2)}"}

    def test_unversioned_inputs_link_to_the_newest_version(self, store: SqlStore) -> None:
        store.append_batch(
            [event(1, outputs=[dataset("/t", "b3:old")], when="2026-01-01T00:00:00Z")]
        )
        store.append_batch(
            [
                event(2, outputs=[dataset("/t", "b3:new")], when="2026-01-02T00:00:00Z"),
                event(3, inputs=[dataset("/t")], when="2026-01-03T00:00:00Z"),
            ]
        )
        versions = {v.id: v.version for v in select_all(store, s.versions)}
        inputs = [versions[e.src] for e in select_all(store, s.edges) if e.relation == "input"]
        assert inputs == ["b3:new"]

    def test_a_run_that_rewrites_its_input_reads_the_version_before(self, store: SqlStore) -> None:
        store.append_batch([event(1, outputs=[dataset("/t", "b3:old")])])
        store.append_batch([event(2, inputs=[dataset("/t")], outputs=[dataset("/t", "b3:new")])])
        versions = {v.id: v.version for v in select_all(store, s.versions)}
        edges = {(versions[e.src], versions[e.dst]) for e in select_all(store, s.edges)}
        assert ("b3:old", f"run:{uid(2)}") in edges
        assert (f"run:{uid(2)}", "b3:new") in edges
        assert ("b3:new", f"run:{uid(2)}") not in edges

    def test_never_seen_unversioned_input(self, store: SqlStore) -> None:
        store.append_batch([event(1, inputs=[dataset("/ghost")])])
        assert "v:unversioned" in {v.version for v in select_all(store, s.versions)}

    def test_rerun_of_an_execution_adds_a_run_not_a_version(self, store: SqlStore) -> None:
        facets = {"threadline_execution": {"executionId": "ex:same"}}
        inputs, outputs = [dataset("/in", "b3:1")], [dataset("/out", "b3:2")]
        store.append_batch([event(1, run_facets=facets, inputs=inputs, outputs=outputs)])
        graph = {k: v for k, v in store.counts().items() if k in GRAPH}
        later = "2026-02-01T00:00:00Z"
        store.append_batch(
            [event(2, run_facets=facets, when=later, inputs=inputs, outputs=outputs)]
        )
        assert {k: v for k, v in store.counts().items() if k in GRAPH} == graph
        runs = select_all(store, s.runs)
        assert len(runs) == 2
        assert runs[0].execution_id == runs[1].execution_id

    def test_every_reference_client_example_is_accepted(self, store: SqlStore) -> None:
        examples = sorted(EXAMPLES.glob("*.json"))
        assert examples, f"no examples under {EXAMPLES}"
        bodies = [json.loads(p.read_text()) for p in examples]
        result = store.append_batch(bodies)
        assert result.appended == len(bodies)
        nodes = {(n.namespace, n.name): n for n in select_all(store, s.nodes)}
        versions = {v.id: v for v in select_all(store, s.versions)}
        edges = select_all(store, s.edges)
        node_of = {v_id: v.node_id for v_id, v in versions.items()}
        for body in bodies:
            datasets = [*body.get("inputs", []), *body.get("outputs", [])]
            if "dataset" in body:
                datasets.append(body["dataset"])
            for ds in datasets:
                assert (ds["namespace"], ds["name"]) in nodes
            job = body.get("job")
            if job:
                assert nodes[(job["namespace"], job["name"])].kind == "job"
            if "run" in body and datasets:
                job_id = nodes[(job["namespace"], job["name"])].id
                for relation, group in (("input", body["inputs"]), ("output", body["outputs"])):
                    for ds in group:
                        ds_id = nodes[(ds["namespace"], ds["name"])].id
                        assert any(
                            e.relation == relation
                            and {node_of[e.src], node_of[e.dst]} == {ds_id, job_id}
                            for e in edges
                        ), (relation, ds["name"])
        assert {r.run_id for r in select_all(store, s.runs)} == {
            b["run"]["runId"] for b in bodies if "run" in b
        }

    def test_bodies_round_trip_exactly(self, store: SqlStore) -> None:
        body = event(1)
        body["run"]["facets"]["custom_vendor_facet"] = {
            "_producer": "x",
            "_schemaURL": "y",
            "deep": {"z": [1, 2.5, "é", "\U0001f600"], "\U0001f600": 1e-7},
            "metrics": {"accuracy": 0.9375, "epochs": 10.0},
        }
        store.append_batch([body])
        (stored,) = store.read_after(Cursor(0))
        assert json.loads(stored.body) == body
        assert b'"epochs":10}' in stored.body  # JCS writes the integral 10.0 as 10

    def test_a_job_event_may_carry_fields_the_spec_does_not_give_it(self, store: SqlStore) -> None:
        # Found by fuzzing the server: a JobEvent whose "eventType" is an object is valid
        # OpenLineage (extra fields are allowed) and must be stored whole, not crash the insert.
        body = {
            "eventTime": "2026-01-01T00:00:00Z",
            "eventType": {"runId": uid(1), "facets": {}},
            "job": {"namespace": "ns", "name": "job", "facets": {}},
            "inputs": [],
            "outputs": [],
            "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
        }
        assert store.append_batch([body]).appended == 1
        (stored,) = store.read_after(Cursor(0))
        assert json.loads(stored.body) == body
        (row,) = select_all(store, s.events)
        assert row.event_kind == "job"
        assert row.event_type is None

    # --- log ----------------------------------------------------------------------------------

    def test_read_after_pages_in_order(self, store: SqlStore) -> None:
        store.append_batch([event(i) for i in range(1, 16)])
        store.append_batch([event(i) for i in range(16, 26)])
        seen: list[int] = []
        cursor = Cursor(0)
        while page := store.read_after(cursor, limit=10):
            assert len(page) <= 10
            seen += [p.seq for p in page]
            cursor = Cursor.decode(Cursor(page[-1].seq).encode())  # as a client resumes
        assert seen == list(range(1, 26))
        assert store.read_after(Cursor(25)) == []
        (tenth,) = store.read_after(Cursor(9), limit=1)
        assert json.loads(tenth.body)["run"]["runId"] == uid(10)

    def test_chain_verifies_after_appends(self, store: SqlStore) -> None:
        for i in range(5):
            store.append_batch([event(i * 10 + j) for j in range(7)])
        report = verify_chain(store.iter_chain())
        assert report.ok
        assert report.records == 35
        (last,) = store.read_after(Cursor(34))
        assert report.head == last.hash

    def test_schema_is_stamped(self, store: SqlStore) -> None:
        assert store.schema_version() == s.SCHEMA_VERSION
        with raw_sql(store) as conn:
            names = set(conn.execute(sa.select(s.migrations.c.name)).scalars())
        assert "0001_initial" in names

    def test_a_store_from_a_newer_threadline_is_refused_untouched(
        self, store: SqlStore, opener: Callable[[], SqlStore]
    ) -> None:
        store.append_batch([event(1, outputs=[dataset("/o", "b3:1")])])
        with raw_sql(store) as conn:
            conn.execute(
                sa.update(s.meta).where(s.meta.c.key == "schema_version").values(value="999")
            )
        before = snapshot(store)
        with pytest.raises(SchemaTooNew, match="upgrade threadline") as caught:
            opener()
        assert "\n" not in caught.value.message
        assert snapshot(store) == before

    # --- verification and checkpoints -----------------------------------------------------------

    def test_verify_and_checkpoints_on_a_clean_log(self, store: SqlStore) -> None:
        assert store.checkpoint() is None  # nothing to vouch for yet
        store.append_batch([event(i) for i in range(1, 6)])
        first = store.checkpoint()
        store.append_batch([event(i) for i in range(6, 9)])
        second = store.checkpoint()
        assert first is not None
        assert second is not None
        assert (first.tree_size, second.tree_size) == (5, 8)
        assert store.checkpoint() == second  # nothing new: the same checkpoint
        assert store.checkpoints() == [first, second]
        report = store.verify()
        assert (report.ok, report.records, report.checkpoints, report.root) == (
            True,
            8,
            2,
            second.root,
        )
        assert report.to_dict()["first_bad"] is None

    def test_verify_catches_a_cut_off_tail(self, store: SqlStore) -> None:
        store.append_batch([event(i) for i in range(1, 11)])
        store.checkpoint()
        with raw_sql(store) as conn:
            conn.execute(sa.delete(s.events).where(s.events.c.seq > 7))
        assert verify_chain(store.iter_chain()).ok  # the chain alone cannot tell
        report = store.verify()
        assert report.first_break is not None
        assert (report.first_break.seq, report.records) == (8, 7)
        assert "missing" in report.first_break.reason
        with pytest.raises(IntegrityError, match="record 8"):
            store.checkpoint()

    def test_verify_catches_a_log_rewritten_from_its_start(self, store: SqlStore) -> None:
        store.append_batch([event(i) for i in range(1, 5)])
        store.checkpoint()
        store.append_batch([event(i) for i in range(5, 9)])
        store.checkpoint()
        rows = store.read_after(Cursor(0))
        with raw_sql(store) as conn:
            prev = GENESIS
            for row in rows:  # edit record 6 and re-link everything after it
                body = row.body.replace(uid(6).encode(), uid(66).encode())
                digest = link(prev, body)
                conn.execute(
                    sa.update(s.events)
                    .where(s.events.c.seq == row.seq)
                    .values(body=body, prev_hash=prev, hash=digest)
                )
                prev = digest
        assert verify_chain(store.iter_chain()).ok  # re-linked: the chain alone cannot tell
        report = store.verify()
        assert report.first_break is not None
        assert (report.first_break.seq, report.records, report.checkpoints) == (5, 4, 1)
        assert "checkpoint 8" in report.first_break.reason

    def test_verify_names_an_edited_record(self, store: SqlStore) -> None:
        store.append_batch([event(i) for i in range(1, 6)])
        store.checkpoint()
        (third,) = store.read_after(Cursor(2), limit=1)
        with raw_sql(store) as conn:
            conn.execute(
                sa.update(s.events)
                .where(s.events.c.seq == 3)
                .values(body=third.body.replace(b"COMPLETE", b"ABORT"))
            )
        report = store.verify()
        assert report.first_break is not None
        assert (report.first_break.seq, report.records) == (3, 2)

    # --- concurrency ----------------------------------------------------------------------------

    @pytest.mark.slow
    def test_concurrent_writers_never_fork_the_chain(self, store: SqlStore) -> None:
        workers, per_worker = 4, 5000
        ctx = multiprocessing.get_context("spawn")
        processes = [
            ctx.Process(target=append_worker, args=(store.url, w, per_worker))
            for w in range(workers)
        ]
        for p in processes:
            p.start()
        try:
            # One deadline for all (each writer stops itself at WRITER_DEADLINE).
            deadline = time.monotonic() + WRITER_DEADLINE + 30
            for p in processes:
                p.join(max(deadline - time.monotonic(), 0))
            codes = [p.exitcode for p in processes]
            assert codes == [0] * workers, f"writers exited with {codes} (None: still running)"
        finally:
            for p in processes:
                if p.is_alive():
                    p.kill()
        total = workers * per_worker
        assert store.counts() == {
            "events": total,
            # 4 jobs, 7 shared inputs, one output per event
            "nodes": workers + 7 + total,
            # shared input versions, one output version and one execution per event
            "versions": 7 + 2 * total,
            "edges": 2 * total,
            "runs": total,
        }
        report = store.verify()
        assert report.ok, report.first_break
        assert report.records == total
        seqs = [r.seq for r in store.read_after(Cursor(0), limit=total + 1)]
        assert seqs == list(range(1, total + 1))

    # --- the graph follows the log (threadline.store.projector) ----------------------------

    def test_an_append_is_acknowledged_before_its_graph_and_a_read_sees_both(
        self, store: SqlStore
    ) -> None:
        hold_projection(store)
        result = store.append_batch([event(1, outputs=[dataset("/o", "b3:01")]), event(2)])
        assert result.appended == 2
        assert raw_counts(store) == {"nodes": 0, "runs": 0, "watermark": 0}
        # A read first brings the graph up to the head the log had when it began.
        assert store.counts()["runs"] == 2
        assert raw_counts(store) == {"nodes": 2, "runs": 2, "watermark": 2}

    def test_a_read_of_the_log_alone_does_not_wait_for_the_graph(self, store: SqlStore) -> None:
        hold_projection(store)
        store.append_batch([event(1), event(2)])
        head = store.read(
            lambda conn: conn.execute(sa.select(sa.func.max(s.events.c.seq))).scalar(),
            graph=False,
        )
        assert head == 2
        assert raw_counts(store)["watermark"] == 0

    def test_a_reader_projects_what_another_handle_left_behind(
        self, store: SqlStore, opener: Callable[[], SqlStore]
    ) -> None:
        hold_projection(store)
        store.append_batch([event(n, inputs=[dataset("/shared", "b3:aa")]) for n in range(5)])
        other = opener()
        try:
            runs = other.read(lambda conn: conn.execute(sa.select(s.runs.c.run_id)).all())
        finally:
            other.close()
        assert len(runs) == 5
        assert raw_counts(store)["watermark"] == 5

    def test_back_pressure_keeps_the_graph_within_max_lag_of_the_log(self, store: SqlStore) -> None:
        """Appends larger than a page of the projection: each brings the graph back within
        the limit before it returns, however many pages that takes."""
        hold_projection(store, max_lag=10, page=3)
        for batch in range(6):
            store.append_batch([event(batch * 8 + n) for n in range(8)])
            behind = store.read_after(Cursor(0), 100)[-1].seq - raw_counts(store)["watermark"]
            assert behind <= 10
        assert raw_counts(store)["watermark"] >= 48 - 10

    def test_the_projector_thread_catches_up_once_appends_pause(self, store: SqlStore) -> None:
        store.append_batch([event(n) for n in range(3)])
        deadline = time.monotonic() + 20
        while raw_counts(store)["watermark"] < 3:
            assert time.monotonic() < deadline, "the graph never followed the log"
            time.sleep(0.02)
        assert raw_counts(store)["runs"] == 3

    def test_closing_leaves_the_graph_whole(
        self, store: SqlStore, opener: Callable[[], SqlStore]
    ) -> None:
        other = opener()
        hold_projection(other)
        other.append_batch([event(n) for n in range(7)])
        other.close()
        assert raw_counts(store) == {"nodes": 1, "runs": 7, "watermark": 7}

    def test_a_record_the_projection_cannot_read_is_left_out_and_the_rest_projected(
        self, store: SqlStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        hold_projection(store)
        store.append_batch([event(1), event(2, outputs=[dataset("/o2", "b3:02")]), event(3)])
        # A body no ingest check would let in (a run with no job), as a tamperer leaves it.
        with raw_sql(store) as conn:
            conn.execute(
                s.events.update()
                .where(s.events.c.seq == 2)
                .values(body=orjson.dumps({"run": {"runId": uid(2)}, "eventTime": "x"}))
            )
        with caplog.at_level("ERROR", logger="threadline.store"):
            runs = store.read(lambda conn: conn.execute(sa.select(s.runs.c.run_id)).scalars())
            assert sorted(runs) == sorted([uid(1), uid(3)])
        assert "record 2 is left out of the graph" in caplog.text
        assert raw_counts(store)["watermark"] == 3

    def test_the_graph_that_follows_the_log_is_the_graph_a_rebuild_gives(
        self, store: SqlStore, tmp_path: Path
    ) -> None:
        """Batches of every size, reads in between: the rows are those of projecting the
        whole log in one go.  (Inputs name their versions here: an input that names none
        links the newest version the projection knows when it writes the page, so where a
        page ends matters for it, as where an append's batch ended did before.)"""
        from threadline.store.rebuild import project_log

        hold_projection(store, max_lag=7)
        rng = random.Random(5)
        seq = 0
        for _ in range(12):
            batch = []
            for _ in range(rng.randint(1, 9)):
                seq += 1
                batch.append(
                    event(
                        seq % 11,  # runs span batches: START here, COMPLETE later
                        rng.choice(["START", "RUNNING", "COMPLETE", "FAIL"]),
                        when=f"2026-01-01T00:{seq // 60:02d}:{seq % 60:02d}Z",
                        inputs=[dataset(f"/in{rng.randint(0, 4)}", rng.choice(["b3:0a", "b3:0b"]))],
                        outputs=[dataset(f"/out{rng.randint(0, 4)}", f"b3:{seq:04x}")],
                    )
                )
            store.append_batch(batch)
            if rng.random() < 0.3:
                store.counts()
        scratch = open_store(tmp_path / "scratch.db")
        try:
            project_log(store, scratch)
            assert natural_graph(store) == natural_graph(scratch)
        finally:
            scratch.close()


def hold_projection(store: SqlStore, *, max_lag: int = 1_000_000, page: int = PAGE) -> None:
    """Keep the store's projector thread from catching up on its own (readers still do);
    appends project ``page`` records at a time once the graph is ``max_lag`` behind."""
    store._projector = Projector(store._project_page, max_lag=max_lag, idle=3600, page=page)


def raw_counts(store: SqlStore) -> dict[str, int]:
    """Graph rows and watermark as the database holds them, without a read's catching up."""
    with raw_sql(store) as conn:
        watermark = conn.execute(
            sa.select(s.meta.c.value).where(s.meta.c.key == s.GRAPH_PROJECTED)
        ).scalar_one()
        return {
            "nodes": conn.execute(sa.select(sa.func.count()).select_from(s.nodes)).scalar_one(),
            "runs": conn.execute(sa.select(sa.func.count()).select_from(s.runs)).scalar_one(),
            "watermark": int(watermark),
        }
