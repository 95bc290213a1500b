"""Fixed cost of ``threadline run`` per process, against the same command run plainly.

Two commands: ``python -c pass`` and a script that imports pandas and writes one small CSV.
Each is run plainly and under ``threadline run --`` in interleaved pairs (so load from other
processes on the machine falls on both sides alike); the figures are medians. CPU time is the
children's user + system time from ``getrusage`` around each run, which covers every process
involved (supervisor, child, anything they start) since all are waited for.

Target (issue 14): overhead <= 40 ms wall and <= 60 ms CPU over every process involved.

Run: ``python bench/bench_run_overhead.py``  (env BENCH_REPEAT, default 11)
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEAT = int(os.environ.get("BENCH_REPEAT", "11"))
WALL_TARGET_MS = 40.0
CPU_TARGET_MS = 60.0

PANDAS_SCRIPT = """\
import pandas as pd
pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}).to_csv("out.csv", index=False)
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU milliseconds of one run of ``argv`` (CPU summed over all its processes)."""
    cpu_before = _children_cpu()
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = (time.perf_counter() - start) * 1000
    return wall, (_children_cpu() - cpu_before) * 1000


def threadline_argv() -> list[str]:
    # The console script beside this interpreter, as a user would type it.
    script = Path(sys.executable).with_name("threadline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "threadline"]


def measure(name: str, command: list[str], workdir: Path) -> None:
    env = dict(os.environ)
    env["THREADLINE_STORE"] = f"sqlite:///{workdir / 'lineage.db'}"
    plain: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    wrapped = [*threadline_argv(), "run", "--", *command]
    # One warm-up of each, not counted: the first run creates the store and fills OS caches.
    timed(command, workdir, env)
    timed(wrapped, workdir, env)
    for _ in range(REPEAT):
        plain.append(timed(command, workdir, env))
        ours.append(timed(wrapped, workdir, env))
    plain_wall = statistics.median(w for w, _ in plain)
    plain_cpu = statistics.median(c for _, c in plain)
    ours_wall = statistics.median(w for w, _ in ours)
    ours_cpu = statistics.median(c for _, c in ours)
    extra_wall = ours_wall - plain_wall
    extra_cpu = ours_cpu - plain_cpu
    wall_ok = "OK" if extra_wall <= WALL_TARGET_MS else "MISS"
    cpu_ok = "OK" if extra_cpu <= CPU_TARGET_MS else "MISS"
    print(f"{name}")
    print(f"  plain              wall {plain_wall:7.1f} ms   cpu {plain_cpu:7.1f} ms")
    print(f"  threadline run     wall {ours_wall:7.1f} ms   cpu {ours_cpu:7.1f} ms")
    print(
        f"  overhead           wall {extra_wall:7.1f} ms [{wall_ok} <= {WALL_TARGET_MS:.0f}]"
        f"   cpu {extra_cpu:7.1f} ms [{cpu_ok} <= {CPU_TARGET_MS:.0f}]"
    )


def main() -> None:
    print(f"threadline run fixed cost, median of {REPEAT} interleaved pairs")
    with tempfile.TemporaryDirectory(prefix="tl-run-overhead-") as tmp:
        workdir = Path(tmp)
        (workdir / "write_csv.py").write_text(PANDAS_SCRIPT)
        measure("python -c pass", [sys.executable, "-c", "pass"], workdir)
        measure("pandas import + one small CSV", [sys.executable, "write_csv.py"], workdir)


if __name__ == "__main__":
    main()
