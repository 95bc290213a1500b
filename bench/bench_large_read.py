"""What ``threadline run`` adds to a script that reads one large file, and what remembering
the file's fingerprint across runs (:mod:`threadline.capture.file_memory`) saves.

The script loads a ``BENCH_MIB`` MiB ``.npy`` file whole with ``numpy.load`` (from the page
cache: the file is read once before timing) and sums it.  Three sides run interleaved,
``BENCH_RUNS`` rounds:

* ``python read.py``;
* ``threadline run``, the fingerprint memory emptied before each run: every run hashes the
  file (what each run cost before file_memory, and what a first run costs);
* ``threadline run``, the memory kept: runs after the first take the file's version from it.

Figures: the median of each round's difference to its plain run, and the run's own account
of capture's work at the hooked call (``threadline_capture.hookCost`` of its root run).

Run: ``python bench/bench_large_read.py``  (env ``BENCH_MIB``, default 512; ``BENCH_RUNS``,
default 9)
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import orjson

MIB = int(os.environ.get("BENCH_MIB", "512"))
RUNS = int(os.environ.get("BENCH_RUNS", "9"))
READ = "import numpy as np\nprint(float(np.load('big.npy').sum()))\n"
PAST_NS = 1_600_000_000 * 10**9  # outside the fingerprint cache's racy window


def make_file(path: Path) -> None:
    block = np.random.default_rng(0).random((8 << 20) // 8)  # 8 MiB of doubles
    out = np.lib.format.open_memmap(path, mode="w+", dtype="f8", shape=(MIB * (1 << 20) // 8,))
    for start in range(0, out.shape[0], block.shape[0]):
        chunk = out[start : start + block.shape[0]]
        chunk[:] = block[: chunk.shape[0]]
    out.flush()
    del out
    os.utime(path, ns=(PAST_NS, PAST_NS))


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def hook_cost_ms(store: Path) -> float:
    """Capture's work at hooked calls in the latest run of ``read.py``, as its record says."""
    with closing(sqlite3.connect(store)) as conn:
        rows = conn.execute(
            "SELECT body FROM tl_events WHERE job_name = 'read.py' ORDER BY seq DESC"
        ).fetchall()
    for (body,) in rows:
        facet = orjson.loads(body)["run"].get("facets", {}).get("threadline_capture", {})
        cost = facet.get("hookCost")
        if cost:
            return float(cost["seconds"]) * 1000
    return float("nan")


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="tl-bench-large-"))
    try:
        make_file(folder / "big.npy")
        (folder / "read.py").write_text(READ)
        (folder / "big.npy").read_bytes()  # into the page cache
        env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        env["XDG_CACHE_HOME"] = str(folder / "cache")
        env["THREADLINE_STORE"] = str(folder / "lineage.db")
        memory = folder / "cache" / "threadline" / "fingerprints.sqlite3"
        plain = [sys.executable, "read.py"]
        captured = [sys.executable, "-m", "threadline", "run", "--", *plain]
        timed(plain, folder, env)
        timed(captured, folder, env)  # creates the store, starts its agent, warms the memory
        cold: list[float] = []
        warm: list[float] = []
        costs: dict[str, list[float]] = {"hashed": [], "remembered": []}
        for _ in range(RUNS):
            base = timed(plain, folder, env)
            memory.unlink(missing_ok=True)
            cold.append(timed(captured, folder, env) - base)
            costs["hashed"].append(hook_cost_ms(folder / "lineage.db"))
            # That run remembered the file again (its mtime is long past): the next one reads it.
            base = timed(plain, folder, env)
            warm.append(timed(captured, folder, env) - base)
            costs["remembered"].append(hook_cost_ms(folder / "lineage.db"))
        base_median = statistics.median(timed(plain, folder, env) for _ in range(3))
        print(
            f"a script that loads a {MIB} MiB .npy file whole, {RUNS} interleaved rounds "
            f"(a plain run {base_median * 1000:.0f} ms)"
        )
        for name, values, cost in (
            ("threadline run, the file hashed", cold, costs["hashed"]),
            ("threadline run, its fingerprint remembered", warm, costs["remembered"]),
        ):
            paired = statistics.median(values)
            print(
                f"  {name:44} paired {paired * 1000:+6.0f} ms ({paired / base_median:+6.1%}); "
                f"capture's work at the hooked call {statistics.median(cost):6.1f} ms"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
