"""Wall time of the demo pipeline with and without automatic capture, in the same run.

The demo's stage scripts (``demo/pipeline/*.py``: sources, ingest, features, two trainings and
evaluations, register, score) run one after another, first as plain ``python SCRIPT`` and then
each under ``python -m threadline run --stage S -- python SCRIPT`` into a fresh store, exactly
as ``make demo`` runs them; the two sides alternate, ``BENCH_RUNS`` times each.  The figure is
the ratio of the median pipeline times: everything capture costs is in it (the supervisor,
the bootstrap in each script, hooks, content fingerprints of every file, frame and model, and
writing the events).  Target: at most 5 % slower.

Fairness: both sides use compiled bytecode from a private cache folder (an installed
threadline ships its ``.pyc`` files, as pandas and scikit-learn do), after one warm-up each.

Run: ``python bench/bench_demo_overhead.py``  (env ``BENCH_RUNS``, default 5)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from bench_precision import DEMO, demo_driver

RUNS: Final = int(os.environ.get("BENCH_RUNS", "5"))
TARGET: Final = 0.05


def pipeline(out: Path, env: dict[str, str], store: str | None) -> float:
    demo = demo_driver()
    started = time.perf_counter()
    for script, args, stage, _reason in (*demo.STAGES, demo.SCORE):
        command = [sys.executable, f"pipeline/{script}", str(out), *args]
        if store is not None:
            command = [sys.executable, "-m", "threadline", "run", "--store", store]
            command += ["--stage", stage, "--", sys.executable, f"pipeline/{script}"]
            command += [str(out), *args]
        subprocess.run(command, cwd=DEMO, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="tl-demo-bench-"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        counter = iter(range(1_000))

        def captured() -> float:
            n = next(counter)
            return pipeline(folder / f"cap-{n}", env, str(folder / f"lineage-{n}.db"))

        pipeline(folder / "plain", env, None)  # warm-up: bytecode caches, page cache
        captured()
        plain: list[float] = []
        capture: list[float] = []
        for _ in range(RUNS):
            plain.append(pipeline(folder / "plain", env, None))
            capture.append(captured())
        base, ours = statistics.median(plain), statistics.median(capture)
        overhead = ours / base - 1
        # Each captured pipeline runs right after a plain one: the median of those differences
        # cancels the machine's slower and faster minutes, which move the medians as much.
        paired = statistics.median(b - a for a, b in zip(plain, capture, strict=True))
        stages = len(demo_driver().STAGES) + 1
        print(f"demo pipeline, {stages} stage scripts, {RUNS} runs each, interleaved")
        print(f"  python SCRIPT              median {base:6.2f} s  min {min(plain):6.2f} s")
        print(
            f"  threadline run -- python   median {ours:6.2f} s  min {min(capture):6.2f} s  "
            f"overhead {overhead * 100:+5.1f} % ({(ours - base) / stages * 1000:.0f} ms per "
            f"script)  target <= {TARGET * 100:.0f} % [{'OK' if overhead <= TARGET else 'MISS'}]"
        )
        print(
            f"  paired (median of each captured run's difference to the plain run before it): "
            f"{paired * 1000:+.0f} ms, {paired / base * 100:+5.1f} %"
        )
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
