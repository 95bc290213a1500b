"""Upstream trace on a synthetic 1,000,000-node pipeline-shaped graph.

Node i has 1 to 3 parents drawn from the previous 1,000 nodes (seeded), the shape of a long
pipeline with wide fan-in.  The graph is written straight into a real store's tables with bulk
inserts (``derived`` edges, one version per node) and cached under ``.bench/`` between runs;
the cache name carries the schema version, so a schema change rebuilds it.

Prints, each with the size of its answer:

* depth-20 trace with the default cap, on 25 random targets: the first query of each target
  (its pages not yet in SQLite's cache) and the median of the repeats — target 20 ms or less;
* depth-20 trace with no cap;
* a fully unbounded trace (no depth, ``limit=None``);
* the peer figure measured in the same run: a plain recursive CTE over the same edges, the
  way a SQL-first lineage store would walk it.

Run: ``python bench/bench_trace.py``  (env ``BENCH_NODES``, default 1000000; ``BENCH_DIR``)
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

from threadline.query import DEFAULT_LIMIT, LineageGraph, trace
from threadline.store import open_store
from threadline.store.schema import SCHEMA_VERSION, node_identity, version_digest

N = int(os.environ.get("BENCH_NODES", "1000000"))
WINDOW = 1000
DEPTH = 20
TARGET_MS = 20.0
TARGETS = 25
REPEATS = 4
T = TypeVar("T")
CACHE = Path(os.environ.get("BENCH_DIR", ".bench")) / f"trace-{N}-schema{SCHEMA_VERSION}.db"


def build(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    open_store(tmp).close()  # the real schema, migrations stamped
    rng = random.Random(20261125)
    conn = sqlite3.connect(tmp)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    start = time.perf_counter()
    conn.executemany(
        "INSERT INTO tl_nodes"
        " (id, type, namespace, name, kind, facets, first_seen_us, updated_us, identity)"
        " VALUES (?, 'dataset', 'file://bench', ?, 'dataset', '{}', ?, ?, ?)",
        (
            (i, f"/n/{i}", i, i, node_identity("dataset", "file://bench", f"/n/{i}"))
            for i in range(1, N + 1)
        ),
    )
    conn.executemany(
        "INSERT INTO tl_versions (id, node_id, version, facets, first_seen_us, last_seen_us,"
        " first_seq, version_digest) VALUES (?, ?, ?, '{}', ?, ?, 0, ?)",
        ((i, i, f"b3:{i:064x}", i, i, version_digest(f"b3:{i:064x}")) for i in range(1, N + 1)),
    )

    def edges() -> Iterator[tuple[int, int, int]]:
        for child in range(2, N + 1):
            low = max(1, child - WINDOW)
            k = min(rng.randint(1, 3), child - low)
            for parent in rng.sample(range(low, child), k):
                yield parent, child, child

    conn.executemany(
        "INSERT INTO tl_edges (src, dst, relation, created_us, first_seq)"
        " VALUES (?, ?, 'derived', ?, 0)",
        edges(),
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    tmp.rename(path)
    print(f"  built {N:,} nodes in {time.perf_counter() - start:.1f} s -> {path}")


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def verdict(ms: float) -> str:
    return "OK" if ms <= TARGET_MS else "MISS"


def main() -> None:
    if not CACHE.exists():
        build(CACHE)
    store = open_store(CACHE)
    edges = store.counts()["edges"]
    rng = random.Random(7)
    targets = [f"dataset:file://bench/n/{rng.randint(N // 2, N)}" for _ in range(TARGETS)]
    # Compiles the statements once (as any long-lived process would have done already).
    trace(store, f"dataset:file://bench/n/{N // 3}", depth=DEPTH)

    print(
        f"upstream trace on {N:,} nodes, {edges:,} edges (1-3 parents from the previous {WINDOW})"
    )
    first: list[float] = []
    warm: list[float] = []
    graph: LineageGraph | None = None
    for round_ in range(1 + REPEATS):
        for target in targets:
            ms, graph = timed(partial(trace, store, target, depth=DEPTH))
            (first if round_ == 0 else warm).append(ms)
    assert graph is not None
    size = f"{len(graph.nodes):,} nodes, {len(graph.edges):,} edges, truncated={graph.truncated}"
    ms = statistics.median(warm)
    print(
        f"  depth {DEPTH}, default cap {DEFAULT_LIMIT}: {ms:7.1f} ms median "
        f"(p90 {statistics.quantiles(warm, n=10)[-1]:.1f} ms), {size}  "
        f"target <= {TARGET_MS:.0f} ms [{verdict(ms)}]"
    )
    ms = statistics.median(first)
    print(
        f"    first query of each target:  {ms:7.1f} ms median (pages not yet cached) "
        f"[{verdict(ms)}]"
    )

    uncapped = [timed(partial(trace, store, t, depth=DEPTH, limit=None)) for t in targets[:5]]
    ms = statistics.median(cost for cost, _ in uncapped)
    sizes = sorted(len(g.nodes) for _, g in uncapped)
    print(
        f"  depth {DEPTH}, no cap:            {ms:7.1f} ms median, "
        f"{sizes[len(sizes) // 2]:,} nodes median"
    )

    ms, everything = timed(partial(trace, store, targets[0], limit=None))
    print(
        f"  unbounded (no depth, no cap):  {ms:7.1f} ms, {len(everything.nodes):,} nodes, "
        f"{len(everything.edges):,} edges"
    )

    # Peer: the recursive CTE a SQL-first lineage store would run for the same question.
    conn = sqlite3.connect(CACHE)
    start_id = int(targets[0].rsplit("/", 1)[1])
    sql = (
        "WITH RECURSIVE up(id, d) AS (SELECT ?, 0 UNION "
        "SELECT e.src, up.d + 1 FROM tl_edges e JOIN up ON e.dst = up.id WHERE up.d < ?) "
        "SELECT count(DISTINCT id) FROM up"
    )
    costs = [timed(lambda: conn.execute(sql, (start_id, DEPTH)).fetchone()[0]) for _ in range(3)]
    ours = timed(partial(trace, store, targets[0], depth=DEPTH, limit=None))
    print(
        f"  peer: recursive CTE, depth {DEPTH}: {statistics.median(c for c, _ in costs):7.1f} ms, "
        f"{costs[0][1]:,} nodes (threadline, same target, no cap: {ours[0]:.1f} ms, "
        f"{len(ours[1].nodes):,} nodes)"
    )
    conn.close()
    store.close()


if __name__ == "__main__":
    main()
