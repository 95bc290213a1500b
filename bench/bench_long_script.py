"""Overhead of ``threadline run`` on a script that runs for a minute, against the same script
run plain in the same benchmark run.  Target (issue 14): at most 1 %.

Two scripts, each sized to ``BENCH_SECONDS`` (default 60) of plain run time on this machine
by a short calibration run:

* **whole frames**: a loop over daily partitions: read a 100,000-row parquet file, derive
  features with vectorised column arithmetic, a group-by and a merge, fit a scaler and a
  logistic regression, score, write the day's scores (a parquet file per iteration);
* **small calls**: a loop over thousands of small groups (``for key, part in
  df.groupby(...)``) doing a handful of frame operations on each, then one write: the script
  where following data through every operation costs most (a few microseconds a call against
  a few tens for pandas' own work).  Past its budget (the ``flow_budget`` setting) capture
  stops following and the lineage of later writes is every file read
  (:mod:`threadline.capture.hooks.flow_budget`); the facet line says when.

The two sides alternate ``BENCH_RUNS`` times (default 3: one pair of one-minute runs moves by
several per cent on a shared machine); the figure is the ratio of the medians.  Both sides
use compiled bytecode from a private cache folder, after a warm-up.

Run: ``python bench/bench_long_script.py``  (env ``BENCH_SECONDS``, ``BENCH_RUNS``,
``BENCH_ONLY`` = ``whole`` or ``small``)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Final

import orjson

SECONDS: Final = float(os.environ.get("BENCH_SECONDS", "60"))
RUNS: Final = int(os.environ.get("BENCH_RUNS", "3"))
ONLY: Final = os.environ.get("BENCH_ONLY", "")
TARGET: Final = 0.01

SETUP: Final = textwrap.dedent(
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = 100_000
    pd.DataFrame({
        "store": rng.integers(0, 400, rows),
        "day": rng.integers(0, 365, rows),
        "sales": rng.random(rows) * 100,
        "cost": rng.random(rows) * 80,
        "visits": rng.integers(1, 50, rows),
    }).to_parquet("sales.parquet")
    pd.DataFrame({"store": np.arange(400), "region": rng.integers(0, 12, 400)}).to_parquet(
        "stores.parquet"
    )
    """
)

WHOLE_FRAMES: Final = textwrap.dedent(
    """
    import os
    import sys

    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    os.makedirs("scores", exist_ok=True)
    stores = pd.read_parquet("stores.parquet")
    for day in range(int(sys.argv[1])):
        sales = pd.read_parquet("sales.parquet")
        sales["margin"] = sales["sales"] - sales["cost"]
        sales["per_visit"] = sales["sales"] / sales["visits"]
        totals = sales.groupby("store", as_index=False)["margin"].sum()
        frame = sales.merge(stores, on="store").merge(totals, on="store", suffixes=("", "_t"))
        features = frame[["sales", "cost", "visits", "per_visit", "margin_t", "region"]]
        label = (frame["margin"] > frame["margin"].median()).astype(int)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=50))
        model.fit(features, label)
        frame["score"] = model.predict_proba(features)[:, 1]
        frame[["store", "day", "score"]].to_parquet(f"scores/day-{day}.parquet")
    """
)

SMALL_CALLS: Final = textwrap.dedent(
    """
    import sys

    import pandas as pd

    sales = pd.read_parquet("sales.parquet").head(20_000)
    rows = []
    for round_ in range(int(sys.argv[1])):
        for store, part in sales.groupby("store"):
            margin = part["sales"] - part["cost"]
            best = part.nlargest(3, "sales")["sales"].sum()
            rows.append({"store": store, "round": round_, "margin": margin.mean(), "best": best})
    pd.DataFrame(rows).to_parquet("summary.parquet")
    """
)

SCRIPTS: Final = {
    "whole frames": ("whole.py", WHOLE_FRAMES),
    "small calls": ("small.py", SMALL_CALLS),
}


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def capture_facet(store: Path) -> dict[str, Any]:
    """The script run's ``threadline_capture`` facet as its run ended: what following cost
    (``flow``) and what capture's own work at hooked calls took (``hookCost``)."""
    from threadline.store import open_store
    from threadline.store.base import Cursor

    found: dict[str, Any] = {}
    with open_store(store) as opened:
        for event in opened.read_after(Cursor(0), 10_000):
            facets = orjson.loads(event.body).get("run", {}).get("facets", {})
            capture = facets.get("threadline_capture") or {}
            if "flow" in capture or "hookCost" in capture:
                found = capture
    return found


def measure(name: str, folder: Path, env: dict[str, str]) -> float:
    script, text = SCRIPTS[name]
    (folder / script).write_text(text)
    plain = [sys.executable, script]
    probe = 2
    timed([*plain, str(probe)], folder, env)  # warm-up: bytecode, page cache
    # Two probe lengths: their difference is one iteration's time without the start-up's.
    longer = timed([*plain, str(probe * 2)], folder, env)
    per_iteration = (longer - timed([*plain, str(probe)], folder, env)) / probe
    iterations = max(1, round(SECONDS / max(per_iteration, 1e-3)))
    counter = iter(range(1_000))
    stores: list[Path] = []

    def captured() -> float:
        store = folder / f"lineage-{name.replace(' ', '-')}-{next(counter)}.db"
        stores.append(store)
        command = [sys.executable, "-m", "threadline", "run", "--store", str(store), "--"]
        return timed([*command, *plain, str(iterations)], folder, env)

    times: dict[str, list[float]] = {"plain": [], "captured": []}
    for _ in range(RUNS):
        times["plain"].append(timed([*plain, str(iterations)], folder, env))
        times["captured"].append(captured())
    base, ours = statistics.median(times["plain"]), statistics.median(times["captured"])
    overhead = ours / base - 1
    verdict = "OK" if overhead <= TARGET else "MISS"
    print(
        f"  {name:13} {iterations:5d} iterations  plain {base:6.1f} s  captured {ours:6.1f} s  "
        f"overhead {overhead * 100:+5.2f} %  (target <= {TARGET * 100:.0f} %) [{verdict}]"
    )
    facet = capture_facet(stores[-1])
    print(f"  {'':13} following: {facet.get('flow')}")
    # Read off the run itself: capture's own time on the script's thread, which no noise of
    # the machine's moves (the timings above carry all of it).
    cost = facet.get("hookCost") or {"calls": 0, "seconds": 0.0}
    following = (facet.get("flow") or {}).get("costSeconds", 0.0)
    own = cost["seconds"] + following
    print(
        f"  {'':13} capture's own work in the last captured run: hooked calls "
        f"{cost['calls']:,} taking {cost['seconds']:.2f} s, following {following:.2f} s: "
        f"{own / times['captured'][-1] * 100:.2f} % of its {times['captured'][-1]:.1f} s"
    )
    return overhead


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="tl-long-"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        (folder / "setup.py").write_text(SETUP)
        subprocess.run([sys.executable, "setup.py"], cwd=folder, env=env, check=True)
        print(f"threadline run on a {SECONDS:.0f} s script, {RUNS} run(s) each side, alternated")
        worst = max(
            measure(name, folder, env) for name in SCRIPTS if not ONLY or name.startswith(ONLY)
        )
        return 0 if worst <= TARGET else 1
    finally:
        subprocess.run(["pkill", "-f", f"threadline.capture.agent.*{folder}"], check=False)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
