"""Upstream trace through the HTTP API on the 1,000,000-node graph, SQLite and PostgreSQL.

The graph is :mod:`bench_trace`'s (node i has 1 to 3 parents among the previous 1,000, seeded),
cached under ``.bench/`` for SQLite and in the PostgreSQL database ``threadline_bench_trace``
(rebuilt when its size or schema revision differs).  A real ``threadline serve`` process is
started on each store, and ``GET /api/v1/threadline/trace?id=…&depth=20`` (default cap of
1,000 vertices) is timed from a keep-alive client on 25 random targets: the first request of
each target, then the median of the repeats.  The same question asked in-process
(``threadline.query.trace``) is printed beside it, so the HTTP and JSON share is visible.
Target: 30 ms median or less on both backends.

Run: ``python bench/bench_api_trace.py``  (env ``BENCH_NODES`` default 1000000, ``BENCH_PG``
default ``postgresql+psycopg://postgres@127.0.0.1:5432/threadline_bench_trace``, empty to skip)
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx

from bench_server import start as start_server
from bench_trace import CACHE, DEPTH, WINDOW, N, build
from threadline.query import trace
from threadline.store import open_store
from threadline.store.schema import SCHEMA_VERSION, node_identity, version_digest

PG = os.environ.get(
    "BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/threadline_bench_trace"
)
TARGET_MS = 30.0
TARGETS = 25
REPEATS = 4
T = TypeVar("T")


def graph_rows() -> Iterator[tuple[int, int]]:
    """The same edges as :func:`bench_trace.build` (same seed, same draws)."""
    rng = random.Random(20261125)
    for child in range(2, N + 1):
        low = max(1, child - WINDOW)
        k = min(rng.randint(1, 3), child - low)
        for parent in rng.sample(range(low, child), k):
            yield parent, child


def build_postgres(url: str) -> bool:
    """Create and fill the bench database unless it already holds this graph; False if PG is
    unreachable."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    admin = dsn.rsplit("/", 1)[0] + "/postgres"
    name = dsn.rsplit("/", 1)[1]
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists:
                with psycopg.connect(dsn) as bench:
                    try:
                        marker = bench.execute(
                            "SELECT value FROM tl_meta WHERE key = 'bench_graph'"
                        ).fetchone()
                    except psycopg.Error:
                        marker = None
                if marker and marker[0] == f"{N}-schema{SCHEMA_VERSION}":
                    return True
                conn.execute(f'DROP DATABASE "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        print(f"  PostgreSQL unreachable ({str(exc).splitlines()[0]}): skipped")
        return False
    open_store(url).close()  # the real schema, migrations stamped
    start = time.perf_counter()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY tl_nodes (id, type, namespace, name, kind, facets, first_seen_us, updated_us,"
            " identity) FROM STDIN"
        ) as copy:
            for i in range(1, N + 1):
                name = f"/n/{i}"
                identity = node_identity("dataset", "file://bench", name)
                copy.write_row(
                    (i, "dataset", "file://bench", name, "dataset", "{}", i, i, identity)
                )
        with cur.copy(
            "COPY tl_versions (id, node_id, version, facets, first_seen_us, last_seen_us,"
            " first_seq, version_digest) FROM STDIN"
        ) as copy:
            for i in range(1, N + 1):
                version = f"b3:{i:064x}"
                copy.write_row((i, i, version, "{}", i, i, 0, version_digest(version)))
        with cur.copy(
            "COPY tl_edges (src, dst, relation, created_us, first_seq) FROM STDIN"
        ) as copy:
            for parent, child in graph_rows():
                copy.write_row((parent, child, "derived", child, 0))
        cur.execute(
            "INSERT INTO tl_meta (key, value) VALUES ('bench_graph', %s)",
            (f"{N}-schema{SCHEMA_VERSION}",),
        )
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"  built {N:,} nodes in PostgreSQL in {time.perf_counter() - start:.1f} s")
    return True


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def measure(label: str, store_url: str, targets: list[str]) -> None:
    process, port = start_server(store_url, workers=1)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as http:

            def ask(target: str) -> int:
                response = http.get(
                    "/api/v1/threadline/trace", params={"id": target, "depth": DEPTH}
                )
                response.raise_for_status()
                return len(response.json()["nodes"])

            first = [timed(lambda t=t: ask(t))[0] for t in targets]  # type: ignore[misc]
            warm: list[float] = []
            sizes: list[int] = []
            for _ in range(REPEATS):
                for target in targets:
                    ms, size = timed(lambda t=target: ask(t))  # type: ignore[misc]
                    warm.append(ms)
                    sizes.append(size)
    finally:
        process.terminate()
        process.wait(timeout=30)
    store = open_store(store_url)
    try:
        local = [timed(lambda t=t: trace(store, t, depth=DEPTH))[0] for t in targets * 2]
    finally:
        store.close()
    api = statistics.median(warm)
    print(
        f"  {label:<10} API trace depth {DEPTH}, cap 1000: {api:6.1f} ms median "
        f"(p90 {statistics.quantiles(warm, n=10)[-1]:.1f} ms; first request per target "
        f"{statistics.median(first):.1f} ms; {statistics.median(sizes):,.0f} nodes)  "
        f"in-process {statistics.median(local):.1f} ms  target <= {TARGET_MS:.0f} ms "
        f"[{'OK' if api <= TARGET_MS else 'MISS'}]"
    )


def main() -> None:
    print(f"upstream trace through GET /api/v1/threadline/trace on {N:,} nodes")
    if not CACHE.exists():
        build(CACHE)
    rng = random.Random(7)
    targets = [f"dataset:file://bench/n/{rng.randint(N // 2, N)}" for _ in range(TARGETS)]
    measure("SQLite", str(Path(CACHE).resolve()), targets)
    if PG and build_postgres(PG):
        measure("PostgreSQL", PG, targets)


if __name__ == "__main__":
    main()
