"""Rebuilding the derived graph from the log: the same graph under its natural keys, and
writers that cached row ids before the rebuild (another process) drop them."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.support.events import uid
from tests.support.graphs import (
    BACKENDS,
    build_store,
    day,
    ds,
    pipeline_events,
    pipeline_store,
    run_event,
)

from threadline.query.reproject import TABLES, compare, deep_check, graph_rows
from threadline.store import open_store
from threadline.store.rebuild import rebuild_graph


@pytest.mark.parametrize("backend", BACKENDS)
def test_rebuild_gives_the_same_graph_and_reports_progress(backend: str, tmp_path: Path) -> None:
    with pipeline_store(backend, tmp_path) as store:
        before = graph_rows(store)
        seen: list[tuple[int, int]] = []
        report = rebuild_graph(store, progress=lambda done, total: seen.append((done, total)))
        assert report.events == store.counts()["events"]
        assert seen[-1] == (report.events, report.events)
        after = graph_rows(store)
        # Compared as verify --deep compares (a replayed facet may spell 1.0 as 1).
        changed = [d.message for t in TABLES for d in compare(t, after[t], before[t])]
        assert changed == []
        assert report.rows["tl_nodes"] == len(before["tl_nodes"])
        # The store keeps appending after a rebuild, and its graph stays what the log gives.
        store.append_batch(
            [
                run_event(
                    "more", uid(300), [ds("/clean", "b3:c2")], [ds("/m1", "b3:m1")], when=day(8)
                )
            ]
        )
        assert deep_check(store, check_files=False).ok


def test_a_writer_that_cached_row_ids_before_a_rebuild_does_not_reuse_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lineage.db"
    build_store(path).close()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        # Row ids with a gap, as a graph edited over time may have: a rebuild renumbers them.
        for statement in (
            "UPDATE tl_nodes SET id = id + 1000",
            "UPDATE tl_versions SET node_id = node_id + 1000, id = id + 1000",
            "UPDATE tl_edges SET src = src + 1000, dst = dst + 1000",
            "UPDATE tl_runs SET job_node_id = job_node_id + 1000,"
            " execution_id = execution_id + 1000",
        ):
            conn.execute(sa.text(statement))
    engine.dispose()
    other = open_store(path)  # another process's store: it caches the ids it writes
    store = open_store(path)
    try:
        other.append_batch(
            [run_event("a", uid(300), [ds("/clean", "b3:c2")], [ds("/m1", "b3:m1")], when=day(8))]
        )
        rebuild_graph(store)
        assert min(int(k) for k in _ids(store)) < 1000  # renumbered
        other.append_batch(
            [run_event("b", uid(301), [ds("/clean", "b3:c2")], [ds("/m2", "b3:m2")], when=day(9))]
        )
        report = deep_check(store, check_files=False)
        assert report.ok, [d.message for d in report.differences]
    finally:
        other.close()
        store.close()


def _ids(store: object) -> list[int]:
    def read(conn: sa.Connection) -> list[int]:
        return [int(x) for x in conn.execute(sa.text("SELECT id FROM tl_nodes")).scalars()]

    return store.read(read)  # type: ignore[attr-defined, no-any-return]


def test_one_batch_and_one_event_at_a_time_give_the_same_graph(tmp_path: Path) -> None:
    """``verify --deep`` replays the log in pages of its own size: the graph must not depend
    on how events were batched (a node named again later moves its ``updated_us``)."""
    events = pipeline_events()
    whole = open_store(tmp_path / "whole.db")
    single = open_store(tmp_path / "single.db")
    try:
        whole.append_batch(events)
        for event in events:
            single.append_batch([event])
        a, b = graph_rows(whole), graph_rows(single)
        assert [d.message for t in TABLES for d in compare(t, b[t], a[t])] == []
    finally:
        whole.close()
        single.close()
