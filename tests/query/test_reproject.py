"""verify --deep: a row edited, added or deleted in each graph table is named (table, natural
key, column), on SQLite and PostgreSQL; recorded files whose bytes changed are listed."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from tests.support.events import dataset, event
from tests.support.graphs import BACKENDS, pipeline_store
from typer.testing import CliRunner

from threadline.cli import app
from threadline.errors import IntegrityError
from threadline.fingerprint import fingerprint_path
from threadline.model.ids import local_host
from threadline.query.reproject import Difference, deep_check
from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.sql import SqlStore


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    with pipeline_store(request.param, tmp_path) as built:
        # Later events one at a time, as a live producer sends them: the replay, which
        # appends in large batches, must give the same graph.
        for run in range(900, 905):
            built.append_batch([event(run, inputs=[dataset("/late.csv")], job="late")])
        yield built


def tamper(store: SqlStore, change: Callable[[sa.Connection], Any]) -> None:
    """Change the graph tables behind the store's back, as its operator could."""
    store.settle()  # the graph follows the log: what is tampered with must be there first
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as conn:
            change(conn)
    finally:
        engine.dispose()


def first(conn: sa.Connection, table: sa.Table) -> dict[str, Any]:
    order = list(table.primary_key.columns)
    row = conn.execute(sa.select(table).order_by(*order).limit(1)).mappings().one()
    return dict(row)


def where(table: sa.Table, row: dict[str, Any]) -> Any:
    return sa.and_(*(c == row[c.name] for c in table.primary_key.columns))


def found(store: SqlStore) -> list[Difference]:
    report = deep_check(store, check_files=False)
    assert report.rows["tl_edges"] > 0
    return report.differences


def test_a_clean_store_matches_its_re_projection(store: SqlStore) -> None:
    report = deep_check(store)
    assert report.differences == []
    assert report.ok
    assert all(report.rows[t] > 0 for t in ("tl_nodes", "tl_versions", "tl_edges", "tl_runs"))


EDITS = {
    "tl_nodes": ("kind", "model"),
    "tl_versions": ("facets", '{"forged": true}'),
    "tl_edges": ("created_us", 1),
    "tl_runs": ("state", "ABORT"),
}
TABLES = {"tl_nodes": s.nodes, "tl_versions": s.versions, "tl_edges": s.edges, "tl_runs": s.runs}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_an_edited_row_is_named_with_its_column(store: SqlStore, name: str) -> None:
    table = TABLES[name]
    column, value = EDITS[name]
    tamper(
        store,
        lambda conn: conn.execute(
            sa.update(table).where(where(table, first(conn, table))).values({column: value})
        ),
    )
    differences = found(store)
    assert [(d.table, d.change, d.column) for d in differences] == [(name, "edited", column)]
    assert differences[0].stored == value
    assert f"{name} [" in differences[0].message
    assert f"column {column} was edited: stored {value!r}" in differences[0].message


@pytest.mark.parametrize("name", sorted(EDITS))
def test_an_added_row_is_named(store: SqlStore, name: str) -> None:
    table = TABLES[name]

    def add(conn: sa.Connection) -> None:
        row = first(conn, table)
        row.pop("id", None)
        # A new natural key for the copy (and the digests kept unique where the schema has
        # them): a row no event gives.
        if name == "tl_nodes":
            row["name"] = "/invented.csv"
        elif name == "tl_versions":
            row["version"] = "b3:invented"
        elif name == "tl_edges":
            row["relation"] = "derived"
        else:
            row["run_id"] = "00000000-0000-7000-8000-999999999999"
        for digest in ("identity", "version_digest"):
            if digest in row:
                row[digest] = os.urandom(32)
        conn.execute(sa.insert(table).values(row))

    tamper(store, add)
    differences = found(store)
    assert [(d.table, d.change) for d in differences] == [(name, "added")]
    assert differences[0].message.endswith("was added: no event in the log gives this row")


@pytest.mark.parametrize("name", sorted(EDITS))
def test_a_deleted_row_is_named(store: SqlStore, name: str) -> None:
    table = TABLES[name]
    keys: list[str] = []

    def delete(conn: sa.Connection) -> None:
        if conn.dialect.name == "postgresql":
            # The operator, as a superuser, skips the foreign keys that would stop them.
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        row = first(conn, table)
        keys.append(str(row.get("name") or row.get("version") or row.get("run_id") or ""))
        conn.execute(sa.delete(table).where(where(table, row)))

    tamper(store, delete)
    differences = found(store)
    deleted = [d for d in differences if d.change == "deleted"]
    # A node or version deleted under rows that point at it also shows those rows as
    # pointing nowhere; the deleted row itself is named first among its table's.
    assert deleted
    assert deleted[0].table == name
    assert keys[0] in deleted[0].key
    assert "was deleted: the log gives this row, the store lacks it" in deleted[0].message


def test_verify_deep_names_the_row_and_a_changed_file(tmp_path: Path) -> None:
    data = tmp_path / "raw.csv"
    data.write_text("a,b\n1,2\n")
    version = fingerprint_path(data, cache=None)
    unchanged = tmp_path / "kept.csv"
    unchanged.write_text("x\n")
    db = tmp_path / "lineage.db"
    with open_store(db) as built:
        built.append_batch(
            [
                event(
                    1,
                    inputs=[
                        {
                            "namespace": f"file://{local_host()}",
                            "name": str(data),
                            "facets": {"version": {"datasetVersion": version}},
                        },
                        {
                            "namespace": f"file://{local_host()}",
                            "name": str(unchanged),
                            "facets": {
                                "version": {
                                    "datasetVersion": fingerprint_path(unchanged, cache=None)
                                }
                            },
                        },
                    ],
                )
            ]
        )
    runner = CliRunner()
    result = runner.invoke(app, ["--store", str(db), "verify", "--deep"])
    assert result.exit_code == 0, result.stderr
    assert "✓ graph matches a re-projection of the log" in result.stdout
    assert "0 of 2 recorded file(s) changed" in result.stdout
    data.write_text("a,b\n1,3\n")
    with open_store(db) as opened:
        tamper(opened, lambda c: c.execute(sa.update(s.runs).values(state="FAIL")))
    result = runner.invoke(app, ["--store", str(db), "verify", "--deep"])
    assert result.exit_code == IntegrityError.exit_code
    assert "✓ verified 1 records" in result.stdout  # the log itself is intact
    assert "tl_runs [00000000-0000-7000-8000-000000000001] column state was edited" in (
        result.stdout
    )
    assert f"{data} changed since it was recorded" in result.stdout
    assert str(unchanged) not in result.stdout
    assert result.stderr.startswith("error: verify --deep: 1 graph row difference(s)")
    result = runner.invoke(app, ["--store", str(db), "verify", "--deep", "--json"])
    assert result.stdout, result.stderr
    deep = orjson.loads(result.stdout)["deep"]
    assert deep["differences"][0]["table"] == "tl_runs"
    assert deep["differences"][0]["column"] == "state"
    assert deep["changed_files"][0]["path"] == str(data)
