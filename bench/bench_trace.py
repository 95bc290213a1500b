"""Upstream trace on a synthetic 1,000,000-node pipeline-shaped graph.

Node i has 1 to 3 parents drawn from the previous 1,000 nodes (seeded), the shape of a long
pipeline with wide fan-in.  The graph is written straight into a store's tables (cached under
``.bench/`` between runs) and questioned through ``threadline.trace``.

Prints: depth-20 trace with the default cap (target 20 ms median or less), the same uncapped, and a
fully unbounded trace, each with the size of its answer; and the peer figure measured in the
same run — a plain recursive CTE over the same edges in SQLite, the way a SQL-first lineage
store would walk it.

Run: ``python bench/bench_trace.py``  (env BENCH_NODES, default 1000000)
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from threadline.query import DEFAULT_LIMIT, LineageGraph, trace
from threadline.store import open_store

N = int(os.environ.get("BENCH_NODES", "1000000"))
WINDOW = 1000
TARGET_MS = 20.0
T = TypeVar("T")
CACHE = Path(os.environ.get("BENCH_DIR", ".bench")) / f"trace-{N}.db"


def build(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    open_store(tmp).close()  # the real schema
    rng = random.Random(20261125)
    conn = sqlite3.connect(tmp)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    start = time.perf_counter()
    conn.executemany(
        "INSERT INTO tl_nodes (id, type, namespace, name, kind, facets, first_seen_us, updated_us)"
        " VALUES (?, 'dataset', 'file://bench', ?, 'dataset', '{}', ?, ?)",
        ((i, f"/n/{i}", i, i) for i in range(1, N + 1)),
    )
    conn.executemany(
        "INSERT INTO tl_versions (id, node_id, version, facets, first_seen_us, last_seen_us, first_seq)"
        " VALUES (?, ?, ?, '{}', ?, ?, 0)",
        ((i, i, f"b3:{i:064x}", i, i) for i in range(1, N + 1)),
    )

    def edges() -> Iterator[tuple[int, int, int]]:
        for child in range(2, N + 1):
            low = max(1, child - WINDOW)
            k = min(rng.randint(1, 3), child - low)
            for parent in rng.sample(range(low, child), k):
                yield parent, child, child

    conn.executemany(
        "INSERT INTO tl_edges (src, dst, relation, created_us, first_seq) VALUES (?, ?, 'derived', ?, 0)",
        edges(),
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    tmp.rename(path)
    print(f"  built {N:,} nodes in {time.perf_counter() - start:.1f} s -> {path}")


def timed(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    costs = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        costs.append((time.perf_counter() - start) * 1000)
    return statistics.median(costs), result


def main() -> None:
    if not CACHE.exists():
        build(CACHE)
    store = open_store(CACHE)
    rng = random.Random(7)
    targets = [f"dataset:file://bench/n/{rng.randint(N // 2, N)}" for _ in range(25)]
    it = iter(targets * 10)

    def capped() -> LineageGraph:
        return trace(store, next(it), depth=20)

    def uncapped20() -> LineageGraph:
        return trace(store, next(it), depth=20, limit=None)

    def unbounded() -> LineageGraph:
        return trace(store, next(it), limit=None)

    print(f"upstream trace on {N:,} nodes (1-3 parents from the previous {WINDOW})")
    ms, graph = timed(capped, 25)
    verdict = "OK" if ms <= TARGET_MS else "MISS"
    print(
        f"  depth 20, default cap {DEFAULT_LIMIT:>5}: {ms:8.1f} ms median, {len(graph.nodes):,} "
        f"nodes (truncated={graph.truncated})  target <= {TARGET_MS:.0f} ms [{verdict}]"
    )
    ms, graph = timed(uncapped20, 5)
    print(f"  depth 20, no cap:              {ms:8.1f} ms median, {len(graph.nodes):,} nodes")
    ms, graph = timed(unbounded, 3)
    print(f"  unbounded (no depth, no cap):  {ms:8.1f} ms median, {len(graph.nodes):,} nodes")

    # Peer: the recursive CTE a SQL-first lineage store would run for the same question.
    conn = sqlite3.connect(CACHE)
    start_id = int(targets[0].rsplit("/", 1)[1])
    sql = (
        "WITH RECURSIVE up(id, d) AS (SELECT ?, 0 UNION "
        "SELECT e.src, up.d + 1 FROM tl_edges e JOIN up ON e.dst = up.id WHERE up.d < 20) "
        "SELECT count(DISTINCT id) FROM up"
    )
    ms_cte, count = timed(lambda: conn.execute(sql, (start_id,)).fetchone()[0], 3)
    print(f"  peer: recursive CTE, depth 20:  {ms_cte:8.1f} ms median, {count:,} nodes")
    store.close()


if __name__ == "__main__":
    main()
