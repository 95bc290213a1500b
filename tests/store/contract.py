"""The store contract, written once and run against every backend.

Subclasses provide only the ``store`` fixture (and ``reopen`` to open the same store again).
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from threadline.errors import InvalidEvent
from threadline.integrity.chain import verify_chain
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.store import schema as s
from threadline.store.base import Cursor
from threadline.store.sql import SqlStore

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
EXAMPLES = SHARED / "spec" / "openlineage" / "examples" / "client"


def uid(n: int) -> str:
    return f"00000000-0000-7000-8000-{n:012d}"


def dataset(name: str, version: str | None = None, kind: str | None = None) -> dict[str, Any]:
    facets: dict[str, Any] = {}
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


def select_all(store: SqlStore, table: sa.Table) -> list[Any]:
    return list(store.read(lambda conn: conn.execute(sa.select(table)).all()))


def append_worker(opener: Callable[[], SqlStore], worker: int, count: int) -> None:
    store = opener()
    try:
        for start in range(0, count, 100):
            store.append_batch(
                [
                    event(worker * 1_000_000 + i, job=f"w{worker}")
                    for i in range(start, min(count, start + 100))
                ]
            )
    finally:
        store.close()


class StoreContract:
    __test__ = False

    # --- idempotency and atomicity -------------------------------------------------------

    def test_same_events_are_stored_once(self, store: SqlStore) -> None:
        batch = [
            event(1, inputs=[dataset("/a", "b3:a")], outputs=[dataset("/b", "b3:b")]),
            event(2),
        ]
        first = store.append_batch(batch)
        assert (first.appended, first.duplicates) == (2, 0)
        counts = store.counts()
        second = store.append_batch(batch)
        assert (second.appended, second.duplicates) == (0, 2)
        assert store.counts() == counts

    def test_duplicates_inside_one_batch(self, store: SqlStore) -> None:
        result = store.append_batch([event(1), event(1), event(1)])
        assert result.appended == 1
        assert store.counts()["events"] == 1

    def test_a_bad_event_rejects_the_whole_batch(self, store: SqlStore) -> None:
        store.append_batch([event(1)])
        before = store.counts()
        bad = {**event(3), "eventTime": "yesterday"}
        with pytest.raises(InvalidEvent, match="event #1"):
            store.append_batch([event(2), bad, event(4)])
        assert store.counts() == before

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda e: e.pop("job"),
            lambda e: e["run"].pop("runId"),
            lambda e: e.update(eventType="FINISHED"),
            lambda e: e.update(eventTime=17),
            lambda e: e["job"].update(name=None),
        ],
    )
    def test_malformed_events_are_rejected(
        self, store: SqlStore, mutate: Callable[[dict[str, Any]], Any]
    ) -> None:
        body = event(1)
        mutate(body)
        with pytest.raises(InvalidEvent):
            store.append_batch([body])
        assert store.counts()["events"] == 0

    # --- run state whatever the order --------------------------------------------------------

    @pytest.mark.parametrize(
        "order",
        [
            ["START", "RUNNING", "COMPLETE"],
            ["COMPLETE", "START"],
            ["COMPLETE", "RUNNING", "START", "COMPLETE"],
        ],
    )
    def test_run_state_does_not_depend_on_arrival_order(
        self, store: SqlStore, order: list[str]
    ) -> None:
        times = {
            "START": "2026-01-01T00:00:00Z",
            "RUNNING": "2026-01-01T00:00:05Z",
            "COMPLETE": "2026-01-01T00:01:00Z",
        }
        for event_type in order:
            store.append_batch(
                [
                    event(
                        7,
                        event_type,
                        when=times[event_type],
                        run_facets={event_type.lower(): {"x": 1}},
                    )
                ]
            )
        (run,) = select_all(store, s.runs)
        assert run.state == "COMPLETE"
        assert run.started_us == 1767225600_000000
        assert run.ended_us == 1767225660_000000
        assert set(orjson.loads(run.facets)) >= {t.lower() for t in order}

    def test_same_batch_holds_start_and_complete(self, store: SqlStore) -> None:
        store.append_batch([event(8, "COMPLETE", when="2026-01-01T00:01:00Z"), event(8, "START")])
        (run,) = select_all(store, s.runs)
        assert (run.state, run.first_seq, run.last_seq) == ("COMPLETE", 1, 2)

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
            [event(2, outputs=[dataset("/t", "b3:new")], when="2026-01-02T00:00:00Z")]
        )
        store.append_batch([event(3, inputs=[dataset("/t")], when="2026-01-03T00:00:00Z")])
        versions = {v.id: v.version for v in select_all(store, s.versions)}
        inputs = [versions[e.src] for e in select_all(store, s.edges) if e.relation == "input"]
        assert inputs == ["b3:new"]

    def test_never_seen_unversioned_input(self, store: SqlStore) -> None:
        store.append_batch([event(1, inputs=[dataset("/ghost")])])
        assert "v:unversioned" in {v.version for v in select_all(store, s.versions)}

    def test_rerun_of_an_execution_adds_a_run_not_a_version(self, store: SqlStore) -> None:
        facets = {"threadline_execution": {"executionId": "ex:same"}}
        io = {"inputs": [dataset("/in", "b3:1")], "outputs": [dataset("/out", "b3:2")]}
        store.append_batch([event(1, run_facets=facets, **io)])
        graph = {k: v for k, v in store.counts().items() if k in ("nodes", "versions", "edges")}
        store.append_batch([event(2, run_facets=facets, when="2026-02-01T00:00:00Z", **io)])
        assert {k: v for k, v in store.counts().items() if k in graph} == graph
        runs = select_all(store, s.runs)
        assert len(runs) == 2
        assert runs[0].execution_id == runs[1].execution_id

    def test_every_reference_client_example_is_accepted(self, store: SqlStore) -> None:
        examples = sorted(EXAMPLES.glob("*.json"))
        assert examples, f"no examples under {EXAMPLES}"
        bodies = [json.loads(p.read_text()) for p in examples]
        result = store.append_batch(bodies)
        assert result.appended == len(bodies)
        names = {n.name for n in select_all(store, s.nodes)}
        for body in bodies:
            for ds in [*body.get("inputs", []), *body.get("outputs", [])]:
                assert ds["name"] in names
            if "dataset" in body:
                assert body["dataset"]["name"] in names
        assert select_all(store, s.edges)

    def test_bodies_round_trip_exactly(self, store: SqlStore) -> None:
        body = event(1)
        body["run"]["facets"]["custom_vendor_facet"] = {
            "_producer": "x",
            "_schemaURL": "y",
            "deep": {"z": [1, 2.5, "é"]},
        }
        store.append_batch([body])
        (stored,) = store.read_after(Cursor(0))
        assert json.loads(stored.body) == body

    # --- log ----------------------------------------------------------------------------------

    def test_read_after_pages_in_order(self, store: SqlStore) -> None:
        store.append_batch([event(i) for i in range(1, 26)])
        seen: list[int] = []
        cursor = Cursor(0)
        while page := store.read_after(cursor, limit=10):
            seen += [p.seq for p in page]
            cursor = Cursor(page[-1].seq)
        assert seen == list(range(1, 26))
        assert Cursor.decode(cursor.encode()) == cursor

    def test_chain_verifies_after_appends(self, store: SqlStore) -> None:
        for i in range(5):
            store.append_batch([event(i * 10 + j) for j in range(7)])
        report = verify_chain(store.iter_chain())
        assert report.ok
        assert report.records == 35

    def test_schema_is_stamped(self, store: SqlStore) -> None:
        assert store.schema_version() == s.SCHEMA_VERSION

    def test_concurrent_writers_never_fork_the_chain(
        self, store: SqlStore, opener: Callable[[], SqlStore]
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        workers = [ctx.Process(target=append_worker, args=(opener, w, 5000)) for w in range(4)]
        for p in workers:
            p.start()
        for p in workers:
            p.join(240)
            assert p.exitcode == 0
        assert store.counts()["events"] == 20_000
        report = verify_chain(store.iter_chain())
        assert report.ok, report.first_break
        assert report.records == 20_000
