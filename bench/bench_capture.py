"""Wall-time overhead of ``threadline run`` on a small pandas + scikit-learn pipeline.

The same script (read a CSV, derive features, split, fit a scaler + logistic regression
pipeline, predict, compute two metrics, dump the model, write the predictions) runs as
``python pipeline.py`` and under ``threadline run --``, interleaved, in the same benchmark run;
the figure is the ratio of the medians.  Captured: every read, fit, prediction, metric and
write, with content fingerprints of every file and in-memory artifact, written to SQLite.

Where the lineage goes decides what a run costs, so the captured side runs two ways:

* **the project's store**, one store every run writes to, as a project's runs do: the first
  run creates it and starts its writer agent (a process that outlives the run and takes the
  events of every later one); that first run is shown apart, the median covers the rest;
* **a fresh store each run**: every run creates its store and starts a writer agent of its
  own (a project's very first run, every time).  The agent's start (interpreter, SQLAlchemy,
  the schema) is off the run's critical path but competes for the same cores.

Fairness: both sides run with compiled bytecode cached in a private folder (an installed
threadline ships its ``.pyc`` files; a ``PYTHONDONTWRITEBYTECODE`` checkout would otherwise pay
for compiling threadline on every run and not pandas), after one warm-up run each.

``threadline run`` is started as users start it: the ``threadline`` console script, and
``python -m threadline run`` (the same entry point, one line each).

Run: ``python bench/bench_capture.py``  (env BENCH_RUNS, default 11; BENCH_ROWS, default 20000)
"""

from __future__ import annotations

import ast
import importlib
import itertools
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

RUNS = int(os.environ.get("BENCH_RUNS", "11"))
ROWS = int(os.environ.get("BENCH_ROWS", "20000"))
TARGET = 0.05

PIPELINE = textwrap.dedent(
    """
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv("data.csv")
    df["ratio"] = df["f0"] / (df["f1"].abs() + 1)
    features = [c for c in df.columns if c != "label"]
    X_train, X_test, y_train, y_test = train_test_split(
        df[features], df["label"], test_size=0.25, random_state=0
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
    model.fit(X_train, y_train)
    predicted = model.predict(X_test)
    scores = model.predict_proba(X_test)[:, 1]
    print(accuracy_score(y_test, predicted), roc_auc_score(y_test, scores))
    joblib.dump(model, "model.joblib")
    pd.DataFrame({"prediction": predicted, "score": scores}).to_csv("predictions.csv", index=False)
    """
)


def stamped(source: str) -> str:
    """``source`` with wall-clock stamps (``time.time()``: comparable across processes) at its
    first line, after each top-level statement, where the interpreter starts its exit (an
    ``atexit`` handler registered at the end runs first) and where it has run every other
    ``atexit`` handler (one registered at the start runs last); printed on stderr as JSON."""
    tree = ast.parse(source)
    lines = [
        "import atexit as _tl_atexit, sys as _tl_sys, time as _tl_time",
        "_tl_stamps = [('first line', _tl_time.time())]",
        "_tl_atexit.register(lambda: _tl_sys.stderr.write("
        "'STAMPS ' + repr(_tl_stamps + [('other exit handlers', _tl_time.time())]) + '\\n'))",
    ]
    for node in tree.body:
        statement = ast.get_source_segment(source, node) or ""
        imports = isinstance(node, ast.Import | ast.ImportFrom)
        label = "imports" if imports else statement.splitlines()[0][:44]
        lines += [statement, f"_tl_stamps.append(({label!r}, _tl_time.time()))"]
    lines.append(
        "_tl_atexit.register(lambda: _tl_stamps.append(('exit handlers start', _tl_time.time())))"
    )
    return "\n".join(lines) + "\n"


def phases(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """Milliseconds of each phase of one run of a :func:`stamped` script: its start (until
    its first line), its statements (consecutive imports as one), the exit handlers other
    than the first-run one (capture's handing over), and the interpreter's exit after them
    (until the command returns)."""
    started = time.time()
    done = subprocess.run(
        command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    ended = time.time()
    line = next(x for x in done.stderr.decode().splitlines() if x.startswith("STAMPS "))
    stamps: list[tuple[str, float]] = ast.literal_eval(line[len("STAMPS ") :])
    out: dict[str, float] = {"start, until the first line": (stamps[0][1] - started) * 1000}
    for (_, before), (name, at) in itertools.pairwise(stamps):
        key = {
            "exit handlers start": "the end of threads, before the exit handlers",
            "other exit handlers": "exit handlers (capture's hand-over)",
        }.get(name, name)
        out[key] = out.get(key, 0.0) + (at - before) * 1000
    out["interpreter exit, until the command returns"] = (ended - stamps[-1][1]) * 1000
    return out


def make_data(folder: Path) -> None:
    import numpy as np

    pd: Any = importlib.import_module("pandas")  # no stubs needed for a data generator
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(ROWS, 8)), columns=[f"f{i}" for i in range(8)])
    frame["label"] = (frame["f0"] + 0.5 * frame["f1"] + rng.normal(size=ROWS) > 0).astype(int)
    frame.to_csv(folder / "data.csv", index=False)


def console_script() -> list[str]:
    """The ``threadline`` console script installed beside this interpreter (what users type),
    or ``python -m threadline`` (the same entry point) when there is none."""
    script = Path(sys.executable).with_name("threadline")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "threadline"]


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    return measured(command, cwd, env)[0]


def measured(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of ``command``, and the CPU seconds (user and system) of every process
    it waited for (the launcher and the script; not a writer agent it handed over to)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def agent_cpu(store: Path) -> float:
    """CPU seconds the writer agent of ``store`` has used so far (0 when none runs)."""
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = stat.read_bytes().split(b"\0")
            if b"threadline.capture.agent" in words and any(
                str(store).encode() in word for word in words
            ):
                fields = (stat.parent / "stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return 0.0


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="tl-bench-"))
    try:
        make_data(folder)
        (folder / "pipeline.py").write_text(PIPELINE)
        env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        plain = [sys.executable, "pipeline.py"]
        console = [*console_script(), "run", "--", *plain]
        module = [sys.executable, "-m", "threadline", "run", "--", *plain]
        project = {**env, "THREADLINE_STORE": str(folder / "lineage.db")}
        counter = iter(range(10_000))

        def fresh() -> dict[str, str]:
            return {**env, "THREADLINE_STORE": str(folder / f"fresh-{next(counter)}.db")}

        sides: dict[str, tuple[list[str], Callable[[], dict[str, str]]]] = {
            "python pipeline.py": (plain, lambda: env),
            "threadline run": (console, lambda: project),
            "python -m threadline run": (module, lambda: project),
            "threadline run, fresh store": (console, fresh),
        }
        timed(plain, folder, env)  # warm-up: bytecode caches, page cache
        first = timed(console, folder, project)  # creates the store, starts its agent
        timed(module, folder, project)
        timed(console, folder, fresh())
        times: dict[str, list[float]] = {name: [] for name in sides}
        cpus: dict[str, list[float]] = {name: [] for name in sides}
        agent_before = agent_cpu(folder / "lineage.db")
        for _ in range(RUNS):
            for name, (command, side_env) in sides.items():
                wall, cpu = measured(command, folder, side_env())
                times[name].append(wall)
                cpus[name].append(cpu)
        # The project's agent takes the events of both project-store sides.
        agent_per_run = (agent_cpu(folder / "lineage.db") - agent_before) / (2 * RUNS)
        base = statistics.median(times["python pipeline.py"])
        print(f"rows: {ROWS}, runs: {RUNS} each, interleaved")
        print(
            f"{'first run into the project store':32} {first * 1000:6.0f} ms"
            "  (creates the store and starts its writer agent)"
        )
        overheads = {}
        for name, values in times.items():
            median = statistics.median(values)
            overheads[name] = median / base - 1
            # Each round runs every side once, one after the other: the median of a round's
            # difference to its plain run cancels the machine's slower and faster minutes,
            # which move the medians of a busy machine by more than capture costs.
            paired = statistics.median(
                b - a for a, b in zip(times["python pipeline.py"], values, strict=True)
            )
            extra = (
                ""
                if name == "python pipeline.py"
                else f"  overhead {overheads[name] * 100:+5.1f} %, paired {paired * 1000:+4.0f} ms"
                f" ({paired / base * 100:+5.1f} %)"
            )
            print(
                f"{name:32} median {median * 1000:6.0f} ms  min {min(values) * 1000:6.0f} ms{extra}"
            )
        overhead = overheads["threadline run"]
        # CPU moves less than wall time between runs of a busy machine: where the time goes.
        plain_cpu = statistics.median(cpus["python pipeline.py"])
        captured_cpu = statistics.median(cpus["threadline run"])
        print(
            f"CPU, median: python pipeline.py {plain_cpu * 1000:.0f} ms, threadline run "
            f"{captured_cpu * 1000:.0f} ms ({(captured_cpu - plain_cpu) * 1000:+.0f} ms in the "
            f"launcher and the script) and {agent_per_run * 1000:.0f} ms a run in the "
            "project's writer agent"
        )
        print(
            f"target ≤ {TARGET * 100:.0f} % (threadline run, the console script, "
            "the project's store)"
        )
        from threadline.store import open_store
        from threadline.store.base import Cursor

        store = open_store(folder / "fresh-0.db")
        try:
            print(f"recorded per run: {store.counts()}")
            cost: dict[str, Any] = {}
            for event in store.read_after(Cursor(0), 10_000):
                facets = orjson.loads(event.body).get("run", {}).get("facets", {})
                cost = (facets.get("threadline_capture") or {}).get("hookCost", cost)
        finally:
            store.close()
        if cost:
            # Read off the run: capture's own work on the script's thread, free of the noise
            # that the timings above carry.
            print(
                f"capture's own work at hooked calls in a run: {cost['calls']} calls, "
                f"{cost['seconds'] * 1000:.1f} ms ({cost['seconds'] / base * 100:.1f} % of the "
                "plain median)"
            )
        where_it_goes(folder, env, project)
        return 0 if overhead <= TARGET else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def where_it_goes(folder: Path, env: dict[str, str], project: dict[str, str]) -> None:
    """The difference split by phase: the pipeline stamped (:func:`stamped`), run plain and
    under ``threadline run`` into the project's store, interleaved; the median of each round's
    difference, phase by phase."""
    (folder / "stamped.py").write_text(stamped(PIPELINE))
    plain = [sys.executable, "stamped.py"]
    captured = [*console_script(), "run", "--", *plain]
    phases(plain, folder, env)
    phases(captured, folder, project)
    rounds = [(phases(plain, folder, env), phases(captured, folder, project)) for _ in range(RUNS)]
    print(f"where the difference goes (stamped pipeline, {RUNS} interleaved rounds, ms):")
    print(f"  {'phase':46} {'plain':>8} {'captured':>9} {'paired':>8}")
    for name in rounds[0][0]:
        alone = statistics.median(a[name] for a, _ in rounds)
        with_capture = statistics.median(b[name] for _, b in rounds)
        paired = statistics.median(b[name] - a[name] for a, b in rounds)
        print(f"  {name:46} {alone:8.1f} {with_capture:9.1f} {paired:+8.1f}")
    total = statistics.median(sum(b.values()) - sum(a.values()) for a, b in rounds)
    print(f"  {'the whole run':46} {'':8} {'':9} {total:+8.1f}")


if __name__ == "__main__":
    sys.exit(main())
