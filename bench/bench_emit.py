"""Caller-thread cost of recording one lineage event, against the official OpenLineage client.

Both sides build the same event (one run, one input and one output dataset with a version
facet) and hand it to their emitter.  The OpenLineage client gets a transport that does nothing
(its ``noop`` kind short-circuits inside ``emit``, so a custom one keeps the client's full emit
path); threadline's emitter writes to a real SQLite store on its background thread, so the GIL
contention that writer causes is part of the measured caller cost.

Run: ``python bench/bench_emit.py``  (env BENCH_EVENTS, default 20000)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

N = int(os.environ.get("BENCH_EVENTS", "20000"))
TARGET_US = 5.0


def measure(one: Callable[[int], None], n: int) -> list[float]:
    costs: list[float] = []
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        one(i)
        costs.append((clock() - start) / 1000)
    return costs


def openlineage_costs(n: int) -> list[float]:
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import dataset_version_dataset
    from openlineage.client.transport.transport import Config, Transport

    class DoNothing(Transport):
        kind = "do-nothing"
        config_class = Config

        def __init__(self, config: Config) -> None:
            pass

        def emit(self, event: object) -> None:
            return None

    client = OpenLineageClient(transport=DoNothing(Config()))
    producer = "https://example.com/bench"
    now = "2026-11-25T00:00:00.000000Z"

    def one(i: int) -> None:
        event = RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=now,
            run=Run(runId=str(uuid.uuid4())),
            job=Job(namespace="bench", name=f"job{i % 100}"),
            inputs=[
                InputDataset(
                    namespace="file://h",
                    name=f"/in/{i % 1000}.csv",
                    facets={
                        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                            datasetVersion=f"b3:{i:064x}"
                        )
                    },
                )
            ],
            outputs=[
                OutputDataset(
                    namespace="file://h",
                    name=f"/out/{i}.csv",
                    facets={
                        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                            datasetVersion=f"b3:{i + 1:064x}"
                        )
                    },
                )
            ],
            producer=producer,
        )
        client.emit(event)

    return measure(one, n)


def threadline_costs(n: int, store_path: Path) -> tuple[list[float], float]:
    from threadline.capture.emitter import Emitter, StoreSink
    from threadline.model.events import PRODUCER, SCHEMA_URL, Dataset, Job, Run, RunEvent
    from threadline.store import open_store

    emitter = Emitter(StoreSink(open_store(store_path)), queue_size=max(n, 10_000))
    now = "2026-11-25T00:00:00.000000Z"

    def one(i: int) -> None:
        emitter.emit(
            RunEvent(
                eventType="COMPLETE",
                eventTime=now,
                run=Run(runId=str(uuid.uuid4())),
                job=Job(namespace="bench", name=f"job{i % 100}"),
                inputs=[
                    Dataset(
                        namespace="file://h",
                        name=f"/in/{i % 1000}.csv",
                        facets={"version": {"datasetVersion": f"b3:{i:064x}"}},
                    )
                ],
                outputs=[
                    Dataset(
                        namespace="file://h",
                        name=f"/out/{i}.csv",
                        facets={"version": {"datasetVersion": f"b3:{i + 1:064x}"}},
                    )
                ],
                producer=PRODUCER,
                schemaURL=SCHEMA_URL,
            )
        )

    costs = measure(one, n)
    start = time.perf_counter()
    emitter.close(600)
    drain = time.perf_counter() - start
    return costs, drain


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        ol = openlineage_costs(N)
        tl, drain = threadline_costs(N, Path(folder) / "bench.db")
    ol_median, tl_median = statistics.median(ol), statistics.median(tl)
    print(f"caller-thread cost of one recorded event ({N} events, median / mean / p99, µs)")
    for label, costs in (
        ("openlineage-python (do-nothing transport)", ol),
        ("threadline emit (SQLite writer running)", tl),
    ):
        p99 = statistics.quantiles(costs, n=100)[98]
        print(
            f"  {label:<44} {statistics.median(costs):8.2f} {statistics.fmean(costs):8.2f} {p99:8.2f}"
        )
    ratio = ol_median / tl_median
    verdict = "OK" if tl_median <= TARGET_US and ratio >= 12 else "MISS"
    print(
        f"  threadline is {ratio:.1f}x cheaper (target: median <= {TARGET_US} us and >= 12x) [{verdict}]"
    )
    print(f"  background writer drained the remaining queue in {drain:.2f} s after the last emit")


if __name__ == "__main__":
    main()
