"""A long stream of appends into the SQLite store: the acknowledgement's share of HTTP batch ingest.

``BENCH_STREAM_EVENTS`` (default 120,000) events in the official OpenLineage client's shape
(``bench_server.official_bodies``: ~1.9 kB, schema, quality and ownership facets), parsed once
up front, appended ``BENCH_BATCH`` (default 5,000) at a time into a fresh store; only
``append_batch`` is timed.  The stream is six times the projector's ``MAX_LAG``, so the graph
is left to follow afterwards (its back-pressure is turned off here, and the store projects the
stream as it closes, untimed): what is measured is the log's side, where SQLite's write-ahead
log grows by ~2,800 pages a batch and is copied into the database every ~10,000
(:mod:`threadline.store.checkpointer`).

Peer, in the same run: the same canonical bodies inserted with bare ``executemany`` into one
table of the same pragmas, in as many transactions.

Run: ``python bench/bench_append_stream.py``  (env ``BENCH_STREAM_EVENTS``, ``BENCH_BATCH``,
``BENCH_REPEAT`` default 2: the best run is shown, to see past other load on a shared machine)
"""

from __future__ import annotations

import gc
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import orjson

from bench_server import official_bodies
from threadline.model.canonical import canonical_json
from threadline.store import open_store

N = int(os.environ.get("BENCH_STREAM_EVENTS", "120000"))
BATCH = int(os.environ.get("BENCH_BATCH", "5000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "2"))


def stream(path: Path, batches: list[list[dict[str, object]]]) -> tuple[float, float]:
    """(events per second, slowest append in seconds) of the whole stream into a new store."""
    store = open_store(path)
    # The log's side only: no page of projection paid by an append, none by an idle moment.
    store._projector.max_lag = 1 << 62  # a benchmark's switch: no back-pressure
    times = []
    try:
        for batch in batches:
            start = time.perf_counter()
            store.append_batch(batch)
            times.append(time.perf_counter() - start)
    finally:
        store.close()  # projects the stream (untimed)
    return sum(len(b) for b in batches) / sum(times), max(times)


def bare(path: Path, bodies: list[bytes]) -> float:
    """Rows per second: the bodies into one bare table, same pragmas as the store."""
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        start = time.perf_counter()
        for i in range(0, len(bodies), BATCH):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO events (body) VALUES (?)", ((b,) for b in bodies[i : i + BATCH])
            )
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
    return len(bodies) / elapsed


def main() -> None:
    # As the server does: the parsed events of a batch are long-lived objects.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    events = [orjson.loads(body) for body in official_bodies(N, "stream")]
    batches = [events[i : i + BATCH] for i in range(0, N, BATCH)]
    bodies = [canonical_json(event) for event in events]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        peer = max(bare(folder / f"bare-{i}.db", bodies) for i in range(REPEAT))
        runs = [stream(folder / f"tl-{i}.db", batches) for i in range(REPEAT)]
    rate, slowest = max(runs)
    size = sum(map(len, bodies)) / N
    print(f"append stream, {N:,} official-client events of ~{size:.0f} B, {BATCH:,} a batch")
    print(f"  bare executemany into one SQLite table   {peer:10,.0f} rows/s")
    print(
        f"  threadline SQLite, acknowledged          {rate:10,.0f} events/s  "
        f"({rate / peer:.1%} of bare; slowest append {slowest * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
