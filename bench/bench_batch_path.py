"""Where an HTTP batch's time goes before its answer: each stage of the path, per event, in
process, against the budget the 30,000 events/s target leaves (issue 14).

The events are the official client's (``bench_server.official_bodies``: a RunEvent with schema,
data-quality and ownership facets, ~1.9 kB), in NDJSON bodies of ``BENCH_BATCH`` events, as
``POST /api/v1/lineage/batch`` receives them.  Each stage is timed alone over every event, best
of ``BENCH_REPEAT`` passes:

* **parse**: ``orjson.loads`` of each line, the events kept (as the endpoint keeps them until
  they are appended) and dropped; and as the batch path parses, giving the canonical bytes
  (``parse_canonical``), also of the events with three floats added, against ``orjson.loads``
  and ``canonical_json``;
* **review** (:meth:`IngestPolicy.review <threadline.spec.ingest.IngestPolicy.review>`), and
  inside it the compiled schema check, the lineage checks and the nesting check;
* **canonical form** of a parsed event (``canonical_json``: what the store does with an event
  it is given parsed; the batch path has it from parsing), the store's **structural check**
  and the **digest**;
* **append**: ``append_batch`` on a fresh SQLite store (within the projector's lag: the graph
  follows later), which also does the three items above, then links and inserts;
* **the whole path**, ``check_batch`` (which prepares each event for the log as it reviews
  it, keeping only the result) then ``append_batch`` of the prepared events (linked and
  inserted), once with CPython's collector at its defaults and once as ``threadline serve``
  runs it (tuned at startup, held off over a batch in flight: :mod:`threadline.collector`).

The reference beside them is what 30,000 events/s allows an event (33 us), and the storage
floor measured in the same run: the same bodies inserted with bare ``executemany`` into one
SQLite table.  ``bench_server.py`` measures the same path over HTTP.

Run: ``python bench/bench_batch_path.py`` (env ``BENCH_EVENTS`` default 15000, ``BENCH_BATCH``
default 5000, ``BENCH_REPEAT`` default 3)
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import blake3
import orjson

from bench_append_stream import bare
from bench_server import BATCH_TARGET, official_bodies
from threadline.collector import collections_held, tune_gc_for_serving
from threadline.model.canonical import canonical_json
from threadline.model.canonical_text import parse_canonical
from threadline.model.events import check_canonical
from threadline.server.batches import check_batch
from threadline.spec.ingest import IngestPolicy, lineage_problems
from threadline.spec.validation import EventValidator, nesting_problem
from threadline.store import open_store

N = int(os.environ.get("BENCH_EVENTS", "15000"))
BATCH = int(os.environ.get("BENCH_BATCH", "5000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
BUDGET_US = 1e6 / BATCH_TARGET
FLOATS = {"auc": 0.8731, "loss": 0.1234, "learningRate": 3e-05}


def best(stage: Callable[[], object], count: int) -> float:
    """Microseconds an event: the fastest of REPEAT passes over ``count`` events."""
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        stage()
        times.append(time.perf_counter() - start)
    return min(times) / count * 1e6


@contextmanager
def serving_collector() -> Iterator[None]:
    """CPython's collector as ``threadline serve`` sets it, for the duration."""
    threshold = gc.get_threshold()
    tune_gc_for_serving()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        gc.enable()


def main() -> None:
    bodies = official_bodies(N, "path")
    raws = [b"\n".join(bodies[i : i + BATCH]) for i in range(0, N, BATCH)]
    events = [orjson.loads(body) for body in bodies]
    canonical = [canonical_json(event) for event in events]
    validator = EventValidator()
    policy = IngestPolicy(validator)
    fast = validator._fast_events  # the compiled check alone (problems() falls back otherwise)
    pairs = list(zip(events, bodies, strict=True))

    def kept() -> None:
        held = [orjson.loads(body) for body in bodies]
        del held

    def dropped() -> None:
        for body in bodies:
            orjson.loads(body)

    def parsed_with_canonical() -> None:
        for body in bodies:
            parse_canonical(body)

    # The same events with a metrics facet of three floats: canonical form walks them.
    with_floats = [
        orjson.dumps({**e, "run": {**e["run"], "facets": {"metrics": FLOATS}}}) for e in events
    ]

    def floats_as_before() -> None:
        for body in with_floats:
            canonical_json(orjson.loads(body))

    def floats_with_canonical() -> None:
        for body in with_floats:
            parse_canonical(body)

    def compiled() -> None:
        if fast is None:
            for event in events:
                validator.problems(event, None)
            return
        for event in events:
            validator._fast_valid(event, fast)

    stages: list[tuple[str, Callable[[], object]]] = [
        ("parse, events kept", kept),
        ("parse, events dropped", dropped),
        ("parse, with canonical bytes", parsed_with_canonical),
        ("  3 floats: orjson, canonical", floats_as_before),
        ("  3 floats: with canonical", floats_with_canonical),
        ("review, whole", lambda: [policy.review(e, raw=b) for e, b in pairs]),
        ("  compiled schema check", compiled),
        ("  lineage checks", lambda: [lineage_problems(e) for e in events]),
        ("  nesting check", lambda: [nesting_problem(e, b) for e, b in pairs]),
        ("canonical form of parsed", lambda: [canonical_json(e) for e in events]),
        (
            "structural check",
            lambda: [check_canonical(e, c) for e, c in zip(events, canonical, strict=True)],
        ),
        ("digest", lambda: [blake3.blake3(c).digest() for c in canonical]),
    ]
    print(
        f"HTTP batch path in process: {N:,} official-client events of "
        f"~{sum(map(len, bodies)) / N:,.0f} B, NDJSON x {BATCH:,}, best of {REPEAT}; each stage "
        "with the collector as threadline serve runs it"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with serving_collector(), collections_held():
            for name, stage in stages:
                print(f"  {name:30s} {best(stage, N):7.2f} us an event")
            appended: list[float] = []
            for run in range(REPEAT):
                store = open_store(folder / f"append-{run}.db")
                start = time.perf_counter()
                for i in range(0, N, BATCH):
                    store.append_batch(events[i : i + BATCH])
                appended.append(time.perf_counter() - start)
                store.close()
            append_us = min(appended) / N * 1e6
            print(f"  {'append (the three above too)':30s} {append_us:7.2f} us an event")

        def whole(label: str, hold: Callable[[], AbstractContextManager[None]]) -> None:
            runs: list[float] = []
            for run in range(REPEAT):
                store = open_store(folder / f"whole-{label[:7]}-{run}.db")
                start = time.perf_counter()
                for raw in raws:
                    with hold():
                        checked = check_batch(
                            policy, raw, "application/x-ndjson", max_events=N, keep=BATCH
                        )
                        assert checked.events is not None
                        store.append_batch(checked.events)
                        del checked
                runs.append(time.perf_counter() - start)
                store.close()
            us = min(runs) / N * 1e6
            print(
                f"  whole path, {label:18s} {us:7.2f} us an event = {1e6 / us:7,.0f} events/s  "
                f"(target {BUDGET_US:.0f} us = {BATCH_TARGET:,}/s) "
                f"{'[OK]' if us <= BUDGET_US else '[MISS]'}"
            )

        whole("default collector", nullcontext)
        with serving_collector():
            whole("as serve runs it", collections_held)
        floor = 1e6 / bare(folder / "bare.db", bodies)
        print(
            f"  bare executemany of the bodies   {floor:7.2f} us an event = {1e6 / floor:7,.0f} "
            "rows/s (the storage floor)"
        )


if __name__ == "__main__":
    main()
