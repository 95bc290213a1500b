"""Precision and recall of automatic capture: the demo, and pipelines kept for checking.

Runs the demo's stage scripts under ``threadline run`` (the same driver as ``make demo``), and
each pipeline under ``bench/pipelines/<name>/`` (plain pandas/polars + scikit-learn scripts with
no lineage code, run in the order its ``pipeline.json`` lists), each in a temporary folder with
its own store.  Then, for every artifact a pipeline writes, it compares the upstream
``threadline.query.trace`` reports with the true upstream declared from the pipeline's known
data flow (which file's bytes were computed from which).  Both sides are artifacts a person can
name: files and the deployment.  In-memory steps of a script (its feature matrices, fitted
estimators, prediction arrays) are how capture gets there, not artifacts, so they are left out
of both sides.

* recall: the share of true sources reported (target 100%: a missed source is a wrong answer);
* precision: the share of reported sources that are true (target at least 95%: extra edges are
  noise, e.g. a lookup table read only for a printed report listed upstream of the model).

A ``pipeline.json`` declares each output's *direct* upstream; the truth is its transitive
closure.  An output computed from a model in memory derives from the model's training data,
not from the model file the same script also wrote (no byte of that file went into it).  Control inputs are not data: the settings a script reads with ``json.load`` decide
a threshold, and the demo's evaluation reports decide which model file is copied to the
registry, but no byte of theirs is in the output (no data-flow capture sees them).

Run: ``python bench/bench_precision.py [demo] [PIPELINE ...]`` (default: all)
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Final

from threadline.query import trace
from threadline.store import normalize_url, open_store

DEMO: Final = Path(__file__).resolve().parents[1] / "demo"
PIPELINES: Final = Path(__file__).resolve().parent / "pipelines"

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
        graph = trace(store, str(out / artifact), limit=None).to_dict()
    found: set[str] = set()
    for node in graph["nodes"]:
        name = str(node["name"])
        if node["kind"] == "job" or node["id"] == graph["root"]:
            continue
        if name.startswith(prefix):
            found.add(name[len(prefix) :])
        elif node["kind"] == "deployment":
            found.add(name)
    return found


@dataclass
class Tally:
    """Sources reported, true, and both, summed over artifacts."""

    hits: int = 0
    reported: int = 0
    true: int = 0

    def add(self, other: Tally) -> None:
        self.hits += other.hits
        self.reported += other.reported
        self.true += other.true

    @property
    def precision(self) -> float:
        return self.hits / self.reported if self.reported else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.true if self.true else 1.0


def compare(store_url: str, out: Path, truth: Mapping[str, frozenset[str]]) -> Tally:
    """Print one row per artifact (and each extra or missed source); the pipeline's tally."""
    print(f"{'artifact':38} {'true':>4} {'rep.':>4} {'precision':>9} {'recall':>7}")
    total = Tally()
    for artifact, expected in truth.items():
        got = reported(store_url, out, artifact)
        row = Tally(len(got & expected), len(got), len(expected))
        total.add(row)
        print(
            f"{artifact:38} {row.true:>4} {row.reported:>4} "
            f"{row.precision:>9.1%} {row.recall:>7.1%}"
        )
        for extra in sorted(got - expected):
            print(f"    extra:  {extra}")
        for missed in sorted(expected - got):
            print(f"    MISSED: {missed}")
    return total


def closure(direct: Mapping[str, list[str]]) -> dict[str, frozenset[str]]:
    """Every artifact's whole upstream, from each one's direct sources."""
    unknown = {s for sources in direct.values() for s in sources} - set(direct)
    if unknown:
        raise SystemExit(f"pipeline.json: sources not declared as artifacts: {sorted(unknown)}")

    @functools.cache
    def upstream(artifact: str) -> frozenset[str]:
        found: set[str] = set()
        for source in direct[artifact]:
            found |= {source, *upstream(source)}
        return frozenset(found)

    return {artifact: upstream(artifact) for artifact in direct}


def run_demo(folder: Path) -> Tally | None:
    out = folder / "demo-output"
    store_url = normalize_url(folder / "demo.db")
    started = time.perf_counter()
    code = demo_driver().run_pipeline(out, store_url)
    if code != 0:
        print(f"the demo failed with exit code {code}", file=sys.stderr)
        return None
    print(f"\ndemo under capture: {time.perf_counter() - started:.1f} s\n")
    return compare(store_url, out, TRUTH)


def run_kept(name: str, folder: Path) -> Tally | None:
    """Run ``bench/pipelines/NAME`` under capture in a copy of its folder; compare."""
    spec = json.loads((PIPELINES / name / "pipeline.json").read_text())
    work = folder / name
    shutil.copytree(PIPELINES / name, work, ignore=shutil.ignore_patterns("__pycache__"))
    store_url = normalize_url(folder / f"{name}.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    started = time.perf_counter()
    for step in spec["steps"]:
        command = [sys.executable, "-m", "threadline", "--store", store_url, "run", "--"]
        done = subprocess.run(
            [*command, sys.executable, *step], cwd=work, env=env, stdout=subprocess.DEVNULL
        )
        if done.returncode != 0:
            print(f"{name}: {' '.join(step)} failed with exit code {done.returncode}")
            return None
    print(
        f"\n{name} under capture: {time.perf_counter() - started:.1f} s ({spec['description']})\n"
    )
    return compare(store_url, work, closure(spec["upstream"]))


def main(argv: list[str]) -> int:
    kept = sorted(p.name for p in PIPELINES.iterdir() if (p / "pipeline.json").is_file())
    chosen = argv or ["demo", *kept]
    unknown = [n for n in chosen if n != "demo" and n not in kept]
    if unknown:
        print(f"no such pipeline: {', '.join(unknown)} (known: demo, {', '.join(kept)})")
        return 2
    results: dict[str, Tally] = {}
    with tempfile.TemporaryDirectory(prefix="tl-precision-") as folder:
        for name in chosen:
            tally = run_demo(Path(folder)) if name == "demo" else run_kept(name, Path(folder))
            if tally is None:
                return 1
            results[name] = tally
    overall = Tally()
    print(f"\n{'pipeline':20} {'true':>5} {'rep.':>5} {'precision':>9} {'recall':>7}")
    for name, tally in results.items():
        overall.add(tally)
        print(
            f"{name:20} {tally.true:>5} {tally.reported:>5} "
            f"{tally.precision:>9.1%} {tally.recall:>7.1%}"
        )
    print(
        f"{'overall (micro)':20} {overall.true:>5} {overall.reported:>5} "
        f"{overall.precision:>9.1%} {overall.recall:>7.1%}"
    )
    print("target: recall 100.0 %, precision ≥ 95.0 %")
    return 0 if overall.recall == 1.0 and overall.precision >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
