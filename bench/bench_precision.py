"""Precision and recall of automatic capture on the demo pipeline.

Runs the demo's stage scripts under ``threadline run`` (the same driver as ``make demo``) in a
temporary folder with its own store, then, for every artifact the pipeline writes, compares the
upstream ``threadline.query.trace`` reports with the true upstream declared below from the
pipeline's known data flow (which file's bytes were computed from which).  Both sides are
artifacts a person can name: files and the deployment.  In-memory steps of a script (its
feature matrices, fitted estimators, prediction arrays) are how capture gets there, not
artifacts, so they are left out of both sides.

* recall: the share of true sources reported (target 100%: a missed source is a wrong answer);
* precision: the share of reported sources that are true (extra edges are noise).

The registry model is a copy of the best variant: the evaluation reports decided *which* file
was copied, but no byte of theirs is in it, so they are not its upstream (a control
dependency, which no data-flow capture sees).

Run: ``python bench/bench_precision.py``
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Final

from threadline.query import trace
from threadline.store import normalize_url, open_store

DEMO: Final = Path(__file__).resolve().parents[1] / "demo"

RAW: Final = {"raw/patients.csv", "raw/measurements.json"}
CLEAN: Final = RAW | {"clean/joined.parquet"}
TRAIN: Final = CLEAN | {"features/train.parquet"}
LOGREG: Final = TRAIN | {"models/logreg.joblib"}
REGISTRY: Final = LOGREG | {"registry/diagnosis-model.joblib"}
DEPLOYMENT: Final = "deployments/production/diagnosis"

#: Each output artifact (relative to the output folder) and its true upstream.
TRUTH: Final[dict[str, frozenset[str]]] = {
    "raw/patients.csv": frozenset(),
    "raw/measurements.json": frozenset(),
    "clean/joined.parquet": frozenset(RAW),
    "features/train.parquet": frozenset(CLEAN),
    "features/score.parquet": frozenset(CLEAN),
    "models/logreg.joblib": frozenset(TRAIN),
    "models/forest.joblib": frozenset(TRAIN),
    "eval/logreg.json": frozenset(LOGREG),
    "eval/forest.json": frozenset((LOGREG - {"models/logreg.joblib"}) | {"models/forest.joblib"}),
    "registry/diagnosis-model.joblib": frozenset(LOGREG),
    "predictions/batch.csv": frozenset(REGISTRY | {"features/score.parquet", DEPLOYMENT}),
}


@functools.cache
def demo_driver() -> ModuleType:
    """The `make demo` driver module (its STAGES, SCORE and run_pipeline)."""
    spec = importlib.util.spec_from_file_location("run_demo", DEMO / "run_demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reported(store_url: str, out: Path, artifact: str) -> set[str]:
    """The upstream artifacts ``trace`` reports, named like :data:`TRUTH`."""
    prefix = str(out) + "/"
    with open_store(store_url) as store:
        graph = trace(store, str(out / artifact), limit=None)
    found: set[str] = set()
    for node in graph.to_dict()["nodes"]:
        name = str(node["name"])
        if node["kind"] == "job" or node["id"] == graph.to_dict()["root"]:
            continue
        if name.startswith(prefix):
            found.add(name[len(prefix) :])
        elif node["kind"] == "deployment":
            found.add(name)
    return found


def main() -> int:
    driver = demo_driver()
    with tempfile.TemporaryDirectory(prefix="tl-precision-") as folder:
        out = Path(folder) / "demo-output"
        store_url = normalize_url(Path(folder) / "lineage.db")
        started = time.perf_counter()
        code = driver.run_pipeline(out, store_url)
        elapsed = time.perf_counter() - started
        if code != 0:
            print(f"the pipeline failed with exit code {code}", file=sys.stderr)
            return code
        print(f"\npipeline under capture: {elapsed:.1f} s\n")
        print(f"{'artifact':34} {'true':>4} {'rep.':>4} {'precision':>9} {'recall':>7}")
        hits = total_reported = total_true = 0
        for artifact, truth in TRUTH.items():
            got = reported(store_url, out, artifact)
            hit = len(got & truth)
            precision = hit / len(got) if got else 1.0
            recall = hit / len(truth) if truth else 1.0
            hits, total_reported, total_true = (
                hits + hit,
                total_reported + len(got),
                total_true + len(truth),
            )
            print(f"{artifact:34} {len(truth):>4} {len(got):>4} {precision:>9.1%} {recall:>7.1%}")
            for extra in sorted(got - truth):
                print(f"    extra:  {extra}")
            for missed in sorted(truth - got):
                print(f"    MISSED: {missed}")
        print(
            f"{'overall (micro)':34} {total_true:>4} {total_reported:>4} "
            f"{hits / total_reported:>9.1%} {hits / total_true:>7.1%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
