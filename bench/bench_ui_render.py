"""First render of a 500-node lineage graph in the web UI, in Debian's Chromium.

A store holds a layered pipeline: 250 jobs in 10 layers, each reading two datasets of the
layer before and writing one, and a model trained on the last layer (501 nodes upstream of
the model).  A real ``threadline serve`` answers the UI; Playwright drives ``/usr/bin/chromium``
to ``/ui/node?id=MODEL&depth=20`` and reads the ``threadline:graph-rendered`` performance mark
(time since the navigation started: page load, the trace and impact API calls, Cytoscape
and the dagre layout).  The reference, measured in the same run on the same graph: Graphviz
drawing it as SVG through ``threadline trace --format svg`` (Python start included).
Target: first render ≤ 1 s (median of 5 cold page loads).

Run: ``python bench/bench_ui_render.py``  (needs ``make ui`` and Debian's chromium)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

from bench_server import start as start_server
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.store import open_store

LAYERS = 10
PER_LAYER = 25
TARGET_MS = 1000.0
LOADS = 5
NS = "file://bench"


def dataset(name: str) -> dict[str, Any]:
    version = "b3:" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex * 2
    return {
        "namespace": NS,
        "name": name,
        "facets": {
            "version": {
                "_producer": PRODUCER,
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json",
                "datasetVersion": version,
            }
        },
    }


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    previous = [f"/raw/{i}.csv" for i in range(PER_LAYER)]
    for layer in range(LAYERS):
        current = []
        for i in range(PER_LAYER):
            name = f"/layer{layer}/{i}.parquet"
            inputs = [previous[i], previous[(i + 1) % PER_LAYER]]
            out.append(event(f"step{layer}_{i}", [dataset(n) for n in inputs], [dataset(name)]))
            current.append(name)
        previous = current
    model = dataset("/models/model.joblib")
    model["facets"]["threadline_artifact"] = {
        "_producer": PRODUCER,
        "_schemaURL": "https://threadline.dev/spec/facets/1-0-0/ArtifactDatasetFacet.json",
        "kind": "model",
    }
    out.append(event("train", [dataset(n) for n in previous], [model]))
    return out


def event(job: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-06-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "bench", "name": job},
        "inputs": inputs,
        "outputs": outputs,
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lineage.db"
        store = open_store(path)
        store.append_batch(events())
        store.close()
        model = f"model:{NS}/models/model.joblib"
        process, port = start_server(f"sqlite:///{path}", workers=1)
        try:
            url = f"http://127.0.0.1:{port}/ui/node?" + urlencode({"id": model, "depth": "20"})
            first, layout, nodes = render_times(url)
        finally:
            process.terminate()
            process.wait(timeout=20)
        started = time.perf_counter()
        svg = Path(tmp) / "graph.svg"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "threadline",
                "--store",
                str(path),
                "trace",
                model,
                "--depth",
                "60",
                "--limit",
                "2000",
                "--format",
                "svg",
                "--out",
                str(svg),
            ],
            check=True,
            capture_output=True,
        )
        graphviz_ms = (time.perf_counter() - started) * 1000
    median = statistics.median(first)
    print(f"nodes drawn: {nodes}")
    print(
        f"first render (navigation → graph on screen), {LOADS} cold loads: "
        f"median {median:.0f} ms, min {min(first):.0f}, max {max(first):.0f}  (target ≤ {TARGET_MS:.0f} ms)"
    )
    print(f"  of which Cytoscape + dagre layout: median {statistics.median(layout):.0f} ms")
    print(
        f"reference: Graphviz SVG of the same graph via threadline trace --format svg: {graphviz_ms:.0f} ms "
        f"(ratio UI/Graphviz {median / graphviz_ms:.2f})"
    )
    print("target met" if median <= TARGET_MS else "TARGET MISSED")
    return 0 if median <= TARGET_MS else 1


def render_times(url: str) -> tuple[list[float], list[float], int]:
    first: list[float] = []
    layout: list[float] = []
    nodes = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        try:
            for _ in range(LOADS):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.goto(url)
                page.wait_for_function(
                    "() => performance.getEntriesByName('threadline:graph-rendered').length > 0",
                    timeout=60_000,
                )
                first.append(
                    page.evaluate(
                        "() => performance.getEntriesByName('threadline:graph-rendered')[0].startTime"
                    )
                )
                canvas = page.locator(".graph-canvas")
                layout.append(float(canvas.get_attribute("data-render-ms") or "nan"))
                nodes = int(canvas.get_attribute("data-nodes") or "0")
                context.close()
        finally:
            browser.close()
    return first, layout, nodes


if __name__ == "__main__":
    sys.exit(main())
