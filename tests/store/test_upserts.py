"""Projection upserts: the merge rules, and the id cache that only trusts committed rows."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from tests.support.events import dataset, event

from threadline.store import open_store, upserts
from threadline.store import schema as s
from threadline.store.id_cache import ENTRY_OVERHEAD, BoundedCache, strings_size
from threadline.store.projection import RunFact
from threadline.store.upserts import dumps, merge_kind, merge_run_rows, merged_facets


def test_dumps_sorts_keys_and_short_cuts_the_empty_dict() -> None:
    assert dumps({}) == "{}"
    assert dumps({"b": 1, "a": {"d": 2, "c": 3}}) == '{"a":{"c":3,"d":2},"b":1}'


@pytest.mark.parametrize(
    ("stored", "new", "merged"),
    [
        ('{"a":1}', {}, None),
        ('{"a":1,"b":2}', {"a": 1}, None),
        ('{"a":1}', {"a": 2}, '{"a":2}'),
        ('{"b":1}', {"a": 0}, '{"a":0,"b":1}'),
    ],
)
def test_merged_facets_is_none_when_nothing_changes(
    stored: str, new: dict[str, Any], merged: str | None
) -> None:
    assert merged_facets(stored, new) == merged


def test_the_default_kind_never_overrides_a_specific_one() -> None:
    assert merge_kind("model", "dataset") == "model"
    assert merge_kind("dataset", "model") == "model"
    assert merge_kind("features", "model") == "model"


def _fact(execution: str | None = None) -> RunFact:
    node = ("job", "test", "job")
    return RunFact(
        node, (node, execution) if execution else None, "", 0, 0, None, None, None, {}, 0, 0
    )


def _stored(**values: Any) -> Any:
    row = {
        "state": "START",
        "state_rank": 1,
        "state_time_us": 100,
        "started_us": 100,
        "ended_us": None,
        "parent_run_id": None,
        "facets": '{"a":"old","keep":1}',
        "first_seq": 1,
        "last_seq": 1,
        "job_node_id": 7,
        "execution_id": 70,
    }
    return SimpleNamespace(**{**row, **values})


def _new(**values: Any) -> dict[str, Any]:
    row = {
        "run_id": "r",
        "job_node_id": 7,
        "execution_id": 71,
        "state": "COMPLETE",
        "state_rank": 3,
        "state_time_us": 200,
        "started_us": None,
        "ended_us": 200,
        "parent_run_id": "p",
        "facets": {"a": "new"},
        "first_seq": 2,
        "last_seq": 2,
    }
    return {**row, **values}


def test_a_later_terminal_state_wins_and_keeps_what_it_does_not_say() -> None:
    merged = merge_run_rows(_stored(), _new(), _fact("v:x"))
    assert (merged["state"], merged["state_rank"], merged["state_time_us"]) == ("COMPLETE", 3, 200)
    assert (merged["started_us"], merged["ended_us"]) == (100, 200)
    assert merged["facets"] == {"a": "new", "keep": 1}
    assert (merged["first_seq"], merged["last_seq"]) == (1, 2)
    assert merged["parent_run_id"] == "p"
    assert merged["execution_id"] == 70  # only a content-derived execution (ex:) replaces one


def test_an_older_start_arriving_late_changes_nothing_it_should_not() -> None:
    stored = _stored(state="COMPLETE", state_rank=3, state_time_us=200, facets='{"a":"done"}')
    late = _new(state="START", state_rank=1, state_time_us=100, started_us=100, ended_us=None)
    merged = merge_run_rows(stored, late, _fact("ex:abc"))
    assert (merged["state"], merged["state_time_us"]) == ("COMPLETE", 200)
    assert merged["facets"] == {"a": "done"}  # the older event's facets do not override
    assert merged["execution_id"] == 71  # an ex: execution is preferred


def test_the_id_caches_stay_within_their_memory_budget(tmp_path: Path) -> None:
    # Room for about three entries: every batch evicts, and answers must not change.
    with open_store(tmp_path / "lineage.db", cache_bytes=3 * (ENTRY_OVERHEAD + 40)) as store:
        for run in range(1, 6):
            store.append_batch([event(run, outputs=[dataset(f"/o{run}", f"b3:{run:02x}")])])
        # Cached ids and looked-up ids give one and the same graph.
        again = store.append_batch([event(9, inputs=[dataset(f"/o{i}") for i in range(1, 6)])])
        assert again.appended == 1
        nodes = store.read(lambda c: c.execute(sa.select(s.nodes.c.name)).scalars().all())
        edges = store.read(lambda c: c.execute(sa.select(s.edges)).all())
    assert sorted(nodes) == sorted(["job", *(f"/o{i}" for i in range(1, 6))])
    assert len(edges) == 5 + 5


def test_a_bounded_cache_charges_entries_by_their_size_and_evicts_the_oldest() -> None:
    cache: BoundedCache[str, str] = BoundedCache(3 * (ENTRY_OVERHEAD + 10), strings_size)
    cache.update({"a": "x" * 9, "b": "y" * 9})
    assert (len(cache), cache.bytes) == (2, 2 * (ENTRY_OVERHEAD + 10))
    cache.update({"c": "z" * 9})
    assert len(cache) == 3
    # One large entry (its facets' JSON, say) pushes out the oldest ones, not a fixed count.
    cache.update({"d": "w" * (ENTRY_OVERHEAD + 200)})
    assert cache.get("a") is None
    assert cache.get("b") is None
    assert cache.bytes <= cache.budget
    cache.update({"c": "short"})  # replacing an entry charges its new size only
    assert cache.get("c") == "short"


@given(
    budget=st.integers(0, 5_000),
    updates=st.lists(
        st.dictionaries(st.integers(0, 60), st.text(max_size=400), max_size=40), max_size=12
    ),
)
def test_a_bounded_cache_evicts_exactly_the_oldest_entries_it_must(
    budget: int, updates: list[dict[int, str]]
) -> None:
    """After every update the cache holds the newest entries only, charged exactly; an
    eviction stops at the first entry that brings it under three quarters of its budget."""

    def size_of(key: int, value: str) -> int:
        return 100 + len(value)

    cache: BoundedCache[int, str] = BoundedCache(budget, size_of)
    order: dict[int, str] = {}  # the model: insertion order, a replaced key moves to the end
    for entries in updates:
        for key, value in entries.items():
            order.pop(key, None)
            order[key] = value
        total = sum(size_of(k, v) for k, v in order.items())
        if total > budget:
            target, dropped = int(budget * 0.75), 0
            for key in list(order):
                if total - dropped <= target:
                    break
                dropped += size_of(key, order.pop(key))
        cache.update(entries)
        assert list(cache._entries.items()) == list(order.items())
        assert cache.bytes == sum(size_of(k, v) for k, v in order.items()) <= max(budget, 0)


def test_one_commit_fills_the_id_caches_with_at_most_cached_per_commit_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk load must not fill the caches with rows it will not name again (they pin memory)."""
    monkeypatch.setattr(upserts, "CACHED_PER_COMMIT", 3)
    with open_store(tmp_path / "lineage.db") as store:
        outputs = [dataset(f"/o{n}", f"b3:{n:02x}") for n in range(10)]
        store.append_batch([event(1, outputs=outputs)])
        store.settle()  # the graph follows the log: project the batch now
        writer = store._projections  # the store's own cache, looked at from outside on purpose
        assert len(writer._node_cache) == 3
        assert len(writer._version_cache) == 3
        # Rows left out of the cache are found again by lookup: the graph is the same.
        again = store.append_batch([event(2, inputs=[dataset(f"/o{n}") for n in range(10)])])
        assert again.appended == 1
        edges = store.read(lambda c: c.execute(sa.select(s.edges)).all())
    assert len(edges) == 10 + 10


def test_the_caches_charge_what_strings_size_says() -> None:
    node: upserts.Known = (7, '{"owner":"é"}', "model", 1)
    key = ("dataset", "file://host", "/data/ünïcode.parquet")
    assert upserts._node_size(key, node) == strings_size(*key, node[1], node[2])
    version: upserts.KnownVersion = (9, '{"a":1}', 1, 2)
    assert upserts._version_size((7, "b3:00ff"), version) == strings_size("b3:00ff", version[1])
