"""Store ingest: events per second into SQLite (and PostgreSQL), against bare inserts.

The peer, measured in the same run on the same machine, is the floor any store pays: the
same canonical JSON bodies inserted with plain batched ``executemany`` into a bare SQLite table
through the stdlib driver (no chain, no dedupe, no graph).

threadline acknowledges an append once its records are in the log (canonicalization,
validation, BLAKE3 digests, dedupe, the hash chain, each batch in one transaction); the graph
projection (nodes, versions, edges, runs) follows (:mod:`threadline.store.projector`).  Two
figures: *acknowledged*, the rate producers see for a burst of up to the projector's
``MAX_LAG`` events (only ``append_batch`` is timed), and *projected*, the sustained rate:
the same events appended back to back and the graph brought up to the log (``settle``), all
of it timed.

A second reference line says how much of the gap is the database's own work: every row the
store wrote (events, nodes, versions, edges, runs: about seven per event, most tables indexed),
copied with bare ``executemany`` into an empty database of the same schema, in as many
transactions.  No Python code can make ingest faster than that line.

Each batch is built just before it is appended and only ``append_batch`` is timed, the way a
producer or the server hands over events it has just made or decoded.  Every figure is the
best of ``BENCH_REPEAT`` runs on a fresh store, to see past other load on a shared machine.

Run: ``python bench/bench_ingest.py``  (env ``BENCH_EVENTS``, default 20000; ``BENCH_REPEAT``,
default 3; ``BENCH_PG``, default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``: the
PostgreSQL line is added when that server answers, set it empty to leave it out)
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from threadline.model.canonical import canonical_json
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.store import open_store
from threadline.store.projector import MAX_LAG

N = int(os.environ.get("BENCH_EVENTS", "20000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
PG = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BATCH = 1000
TARGET = 50_000  # acknowledged, issue 14


def event(i: int) -> dict[str, Any]:
    """Realistic capture: one run, 1-2 versioned inputs from a pool of 500, one new output."""
    rng = random.Random(i)
    inputs = [
        {
            "namespace": "file://host",
            "name": f"/data/in/{k}.parquet",
            "facets": {"version": {"datasetVersion": f"b3:{k:064x}"}},
        }
        for k in rng.sample(range(500), rng.randint(1, 2))
    ]
    return {
        "eventType": "COMPLETE",
        "eventTime": f"2026-11-25T{i // 3_600_000 % 24:02d}:{i // 60000 % 60:02d}:"
        f"{i // 1000 % 60:02d}.{i % 1000:03d}000Z",
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {
            "runId": str(uuid.UUID(int=i + 1)),
            "facets": {"threadline_execution": {"executionId": f"ex:{i:032x}"}},
        },
        "job": {"namespace": "bench", "name": f"job{i % 50}"},
        "inputs": inputs,
        "outputs": [
            {
                "namespace": "file://host",
                "name": f"/data/out/{i}.parquet",
                "facets": {"version": {"datasetVersion": f"b3:{i + 10**6:064x}"}},
            }
        ],
    }


def bare(bodies: list[bytes], folder: Path) -> float:
    """Rows per second: the canonical bodies into one bare table, same pragmas as the store."""
    path = folder / f"bare-{uuid.uuid4().hex}.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    start = time.perf_counter()
    for i in range(0, len(bodies), BATCH):
        with conn:
            conn.executemany(
                "INSERT INTO events (body) VALUES (?)", ((b,) for b in bodies[i : i + BATCH])
            )
    elapsed = time.perf_counter() - start
    conn.close()
    return len(bodies) / elapsed


def schema_floor(store_path: Path, folder: Path, tables: list[str] | None = None) -> float:
    """Events per second for bare inserts of exactly the rows the store wrote at ``store_path``
    (into ``tables``, all five by default)."""
    tables = tables or ["tl_events", "tl_nodes", "tl_versions", "tl_edges", "tl_runs"]
    with contextlib.closing(sqlite3.connect(store_path)) as source:
        rows = {t: source.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
        ddl = [
            sql
            for (sql,) in source.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name IN "
                f"({', '.join('?' * len(tables))})",
                tables,
            )
        ]
    target = folder / f"floor-{uuid.uuid4().hex}.db"
    with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for statement in ddl:
            conn.execute(statement)
        batches = -(-N // BATCH)
        start = time.perf_counter()
        for b in range(batches):
            conn.execute("BEGIN IMMEDIATE")
            for table in tables:
                part = rows[table][
                    b * len(rows[table]) // batches : (b + 1) * len(rows[table]) // batches
                ]
                if part:
                    marks = ", ".join("?" * len(part[0]))
                    conn.executemany(f"INSERT INTO {table} VALUES ({marks})", part)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
    return N / elapsed


def ours(url: str) -> float:
    """Events per second acknowledged by ``append_batch`` into a fresh store at ``url``."""
    store = open_store(url)
    elapsed = 0.0
    try:
        for i in range(0, N, BATCH):
            batch = [event(j) for j in range(i, min(N, i + BATCH))]
            start = time.perf_counter()
            store.append_batch(batch)
            elapsed += time.perf_counter() - start
    finally:
        store.close()
    return N / elapsed


def projected(url: str) -> float:
    """Events per second appended and projected: the wall time until the graph holds them."""
    batches = [[event(j) for j in range(i, min(N, i + BATCH))] for i in range(0, N, BATCH)]
    store = open_store(url)
    try:
        start = time.perf_counter()
        for batch in batches:
            store.append_batch(batch)
        store.settle()
        elapsed = time.perf_counter() - start
    finally:
        store.close()
    return N / elapsed


def _rows_per_event(store_path: Path) -> float:
    with contextlib.closing(sqlite3.connect(store_path)) as conn:
        total: int = sum(
            int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
            for t in ("tl_events", "tl_nodes", "tl_versions", "tl_edges", "tl_runs")
        )
    return total / N


def best(measure: Callable[[], float]) -> float:
    return max(measure() for _ in range(REPEAT))


def postgres() -> float | None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError:
        admin.dispose()
        return None

    def once() -> float:
        name = f"tl_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            return ours(PG.rsplit("/", 1)[0] + "/" + name)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')

    try:
        return best(once)
    finally:
        admin.dispose()


def main() -> None:
    bodies = [canonical_json(event(i)) for i in range(N)]
    size = sum(map(len, bodies)) / N
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        peer = best(lambda: bare(bodies, folder))
        runs = [folder / f"tl-{i}.db" for i in range(REPEAT)]
        rate = max(ours(str(path)) for path in runs)
        sustained = max(projected(str(folder / f"tl-p{i}.db")) for i in range(REPEAT))
        floor = best(lambda: schema_floor(runs[0], folder))
        log_floor = best(lambda: schema_floor(runs[0], folder, ["tl_events"]))
        rows = _rows_per_event(runs[0])
    verdict = "OK" if rate >= TARGET and rate >= 0.2 * peer else "MISS"
    print(
        f"store ingest, {N:,} events of ~{size:.0f} B in batches of {BATCH}, best of {REPEAT} "
        f"(the graph may lag the log by {MAX_LAG:,} events)"
    )
    print(f"  bare executemany into one SQLite table  {peer:10,.0f} rows/s")
    print(
        f"  bare executemany of the store's rows     {floor:10,.0f} events/s  "
        f"({rows:.1f} rows per event into the store's schema)"
    )
    print(
        f"  bare executemany of the log's rows       {log_floor:10,.0f} events/s  "
        "(tl_events alone, with its indexes: what an acknowledgement writes)"
    )
    print(
        f"  threadline SQLite, acknowledged          {rate:10,.0f} events/s  "
        f"({rate / peer:.1%} of bare = 1 : {peer / rate:.1f}; target >= {TARGET:,}/s and "
        f">= 20% of bare; {rate / log_floor:.0%} of the log's floor) [{verdict}]"
    )
    print(
        f"  threadline SQLite, projected             {sustained:10,.0f} events/s  "
        f"({sustained / peer:.1%} of bare; {sustained / floor:.0%} of the rows' floor)"
    )
    if PG:
        pg = postgres()
        if pg is None:
            print(f"  threadline PostgreSQL store              (no server at {PG})")
        else:
            print(
                f"  threadline PostgreSQL store              {pg:10,.0f} events/s  "
                f"({pg / peer:.1%} of bare SQLite)"
            )


if __name__ == "__main__":
    main()
