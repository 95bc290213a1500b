"""Store ingest: events per second into SQLite (and PostgreSQL), against bare inserts.

The peer, measured in the same run on the same machine, is the floor any store pays: the
same canonical JSON bodies inserted with plain batched ``executemany`` into a bare SQLite table
through the stdlib driver (no chain, no dedupe, no graph).  threadline's figure includes
canonicalization, BLAKE3 digests, dedupe, the hash chain and the graph projection.

Run: ``python bench/bench_ingest.py``  (env BENCH_EVENTS, default 20000; BENCH_PG=URL to add
PostgreSQL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres)
"""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from threadline.model.canonical import canonical_json
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.store import open_store

N = int(os.environ.get("BENCH_EVENTS", "20000"))
BATCH = 1000
TARGET = 20_000


def events(n: int) -> list[dict[str, Any]]:
    """Realistic capture: one run, 1-2 versioned inputs from a pool, one new output."""
    rng = random.Random(1)
    out = []
    for i in range(n):
        inputs = [
            {
                "namespace": "file://host",
                "name": f"/data/in/{k}.parquet",
                "facets": {"version": {"datasetVersion": f"b3:{k:064x}"}},
            }
            for k in rng.sample(range(500), rng.randint(1, 2))
        ]
        out.append(
            {
                "eventType": "COMPLETE",
                "eventTime": f"2026-11-25T00:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}000Z",
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
        )
    return out


def bare(bodies: list[bytes], folder: Path) -> float:
    conn = sqlite3.connect(folder / "bare.db")
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


def ours(batch: list[dict[str, Any]], url: str) -> float:
    store = open_store(url)
    start = time.perf_counter()
    for i in range(0, len(batch), BATCH):
        store.append_batch(batch[i : i + BATCH])
    elapsed = time.perf_counter() - start
    store.close()
    return len(batch) / elapsed


def main() -> None:
    batch = events(N)
    bodies = [canonical_json(e) for e in batch]
    with tempfile.TemporaryDirectory() as folder:
        peer = bare(bodies, Path(folder))
        sqlite_rate = ours(batch, str(Path(folder) / "tl.db"))
    print(f"store ingest, {N:,} events in batches of {BATCH}")
    print(f"  bare executemany into one SQLite table  {peer:10,.0f} rows/s")
    verdict = "OK" if sqlite_rate >= TARGET else "MISS"
    print(
        f"  threadline SQLite store                  {sqlite_rate:10,.0f} events/s  "
        f"({sqlite_rate / peer:.0%} of bare; target >= {TARGET:,}/s) [{verdict}]"
    )
    pg = os.environ.get("BENCH_PG")
    if pg:
        import sqlalchemy as sa

        admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
        name = f"tl_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            url = pg.rsplit("/", 1)[0] + "/" + name
            print(f"  threadline PostgreSQL store              {ours(batch, url):10,.0f} events/s")
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
