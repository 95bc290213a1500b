"""The bulk statement compiler, on a real store's tables (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from tests.support.pg import fresh_database

from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.bulk import (
    CHUNK,
    EDGE_COLUMNS,
    INSERTS,
    SMALL_CHUNK,
    Bulk,
    BulkStatements,
    as_bulk,
    chunks,
    lookup_size,
)
from threadline.store.sql import SqlStore

INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        with open_store(tmp_path / "lineage.db") as opened:
            yield opened
        return
    with fresh_database() as url, open_store(url) as opened:
        yield opened


def engine(store: SqlStore) -> sa.Engine:
    return sa.create_engine(store.url, poolclass=sa.pool.NullPool)


def edge(i: int) -> tuple[Any, ...]:
    return (i, i + 1, "input", 1_000 + i, i)


def test_chunks_cover_every_item_once() -> None:
    items = list(range(2 * CHUNK + 3))
    parts = list(chunks(items))
    assert [len(p) for p in parts] == [CHUNK, CHUNK, 3]
    assert [x for p in parts for x in p] == items
    assert list(chunks([])) == []


def test_lookups_take_the_next_power_of_two_keys_at_most_a_chunk() -> None:
    assert [lookup_size(n) for n in (1, SMALL_CHUNK, SMALL_CHUNK + 1, 64, 65, 256, 257)] == [
        SMALL_CHUNK,
        SMALL_CHUNK,
        2 * SMALL_CHUNK,
        64,
        128,
        256,
        CHUNK,
    ]
    assert lookup_size(10 * CHUNK) == CHUNK


def test_a_lookup_in_another_parameter_order_takes_each_value_from_its_key() -> None:
    class Compiled:
        positional = True
        positiontup = ("k1_1", "k0_0", "k1_0", "k0_1")

    bulk = as_bulk(Compiled(), ())
    keys = [("a", 1), ("b", 2)]
    flat = [value for key in keys for value in key]
    assert bulk.take is not None
    assert [flat[i] for i in bulk.take] == [2, "a", "b", 1]


def test_params_follow_the_driver_layout() -> None:
    rows = [(1, "a", 2.0), (3, "b", 4.0)]
    assert Bulk("", (), None, ("x", "y", "z")).params(rows) == [
        {"x": 1, "y": "a", "z": 2.0},
        {"x": 3, "y": "b", "z": 4.0},
    ]
    assert Bulk("", ("z", "x"), (2, 0), None).params(rows) == [(2.0, 1), (4.0, 3)]
    assert Bulk("", ("x", "y", "z"), None, None).params(rows) is rows


@pytest.mark.parametrize("per_statement", [1, 4, 200])
@pytest.mark.parametrize("count", [1, 2, 7, 23])
def test_inserts_of_any_size_land_every_row_once(
    store: SqlStore, per_statement: int, count: int
) -> None:
    statements = BulkStatements(INSERT[store.dialect], per_statement)
    rows = [edge(i) for i in range(count)]
    with engine(store).begin() as conn:
        assert statements.run(conn, "edges", rows) == count
        # The natural key conflicts: nothing changes the second time.
        assert statements.run(conn, "edges", rows[:3]) == 0
    stored = store.read(lambda c: c.execute(sa.select(s.edges).order_by(s.edges.c.src)).all())
    assert [tuple(r) for r in stored] == rows
    assert tuple(c.name for c in s.edges.columns) == EDGE_COLUMNS == INSERTS["edges"][0]


def _node(name: str) -> bytes:
    return s.node_identity("dataset", "file://h", name)


def test_find_pads_chunks_and_matches_composite_and_scalar_keys(store: SqlStore) -> None:
    statements = BulkStatements(INSERT[store.dialect], 1)
    count = CHUNK + 5  # two chunks, the second padded
    nodes = [
        (i + 1, "dataset", "file://h", f"/d{i}", "dataset", "{}", 0, 0, _node(f"/d{i}"))
        for i in range(count)
    ]
    with engine(store).begin() as conn:
        statements.run(conn, "nodes", nodes)
        wanted = [_node(f"/d{i}") for i in range(0, count, 2)]
        found = statements.find(conn, "nodes", [*wanted, _node("/none")])
        assert sorted(row[3] for row in found) == sorted(f"/d{i}" for i in range(0, count, 2))
        # Every statement size, each padded or full: the same rows either way.
        for size in (1, SMALL_CHUNK, SMALL_CHUNK + 1, 33, 100, 129, 256, 257, CHUNK):
            found = statements.find(conn, "nodes", [_node(f"/d{i}") for i in range(size)])
            assert sorted(row[3] for row in found) == sorted(f"/d{i}" for i in range(size))
        versions = [
            (v, 1 + v % 7, f"b3:{v:02x}", "{}", 0, 0, 1, s.version_digest(f"b3:{v:02x}"))
            for v in range(1, 301)
        ]
        statements.run(conn, "versions", versions)
        for size in (1, 17, 40, 300):
            keys = [(1 + v % 7, s.version_digest(f"b3:{v:02x}")) for v in range(1, size + 1)]
            # A key of a version under another node finds nothing.
            keys.append((1 + (size + 1) % 7, s.version_digest("b3:01")))
            found = statements.find(conn, "versions", keys)
            assert sorted(row[2] for row in found) == sorted(
                f"b3:{v:02x}" for v in range(1, size + 1)
            )
        by_id = statements.find(conn, "node_rows", [1, count, count + 1])
        assert sorted(row[0] for row in by_id) == [1, count]
        assert statements.find(conn, "nodes", []) == []


def test_version_updates_only_widen_the_seen_window(store: SqlStore) -> None:
    statements = BulkStatements(INSERT[store.dialect], 1)
    with engine(store).begin() as conn:
        statements.run(
            conn, "nodes", [(1, "dataset", "file://h", "/d", "dataset", "{}", 0, 0, _node("/d"))]
        )
        statements.run(
            conn, "versions", [(1, 1, "b3:01", "{}", 100, 200, 1, s.version_digest("b3:01"))]
        )
        statements.run(conn, "version_touch", [(1, 150, 180)])  # inside: no change
        statements.run(conn, "version_update", [(1, '{"a":1}', 50, 190)])  # earlier start
        row = conn.execute(sa.select(s.versions)).one()
    assert (row.facets, row.first_seen_us, row.last_seen_us) == ('{"a":1}', 50, 200)


def test_unknown_statement_names_are_refused(store: SqlStore) -> None:
    statements = BulkStatements(INSERT[store.dialect], 1)
    with engine(store).begin() as conn, pytest.raises(KeyError):
        statements.run(conn, "nonsense", [(1,)])
