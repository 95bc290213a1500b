"""Fixed cost of ``threadline run`` per process, against the same command run plainly.

Two commands: ``python -c pass`` and a script that imports pandas and writes one small CSV;
the script again in a project folder holding a ``pyproject.toml`` (no ``[tool.threadline]``
table in it, as in most projects: every process that resolves settings looks at it).
Each is run plainly and under ``threadline run --`` in interleaved pairs (so load from other
processes on the machine falls on both sides alike); the figures are medians. CPU time is the
children's user + system time from ``getrusage`` around each run, which covers every process
involved (supervisor, child, anything they start) since all are waited for, plus the CPU the
store's writer agent (a long-lived process the runs hand their events to, which is not waited
for) spent during the timed runs, read from ``/proc``, divided evenly among them.  The agent's
own start (first run) is shown apart, and a third line per command runs with no agent
(``THREADLINE_AGENT_IDLE_SECONDS=0``: each run opens the store itself).

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

from threadline.settings_files import SETTLED_SECONDS

REPEAT = int(os.environ.get("BENCH_REPEAT", "11"))
WALL_TARGET_MS = 40.0
CPU_TARGET_MS = 60.0

PANDAS_SCRIPT = """\
import pandas as pd
pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}).to_csv("out.csv", index=False)
"""

PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "forecasts"
version = "0.4.1"
requires-python = ">=3.11"
dependencies = ["pandas>=2.1", "scikit-learn>=1.4", "pyarrow>=15"]

[project.optional-dependencies]
dev = ["pytest>=8", "ruff>=0.4", "mypy>=1.10"]

[tool.ruff]
line-length = 99
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "I", "B", "UP"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-q"
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


def agent_cpu(store_url: str) -> float:
    """Seconds of CPU used so far by the writer agents of ``store_url`` (0 when none runs)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"threadline.capture.agent" not in argv or store_url.encode() not in argv:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def threadline_argv() -> list[str]:
    # The console script beside this interpreter, as a user would type it.
    script = Path(sys.executable).with_name("threadline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "threadline"]


def settled_agent_cpu(store_url: str) -> float:
    """:func:`agent_cpu` once it stops growing (the agent idle: started, or done writing),
    waiting at least half a second and at most ten."""
    time.sleep(0.5)
    last = agent_cpu(store_url)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = agent_cpu(store_url)
        if now == last:
            return now
        last = now
    return last


def measure(
    name: str, command: list[str], workdir: Path, *, agent: bool = True, cwd: Path | None = None
) -> None:
    """Print the figures of ``command`` run in ``cwd`` (``workdir`` by default)."""
    cwd = cwd or workdir
    env = dict(os.environ)
    # Compiled bytecode on both sides, as an installed threadline (and pandas) ships it; a
    # PYTHONDONTWRITEBYTECODE shell would otherwise charge every run the compiling of ~70
    # modules.  The warm-up runs below fill this private cache.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    # Its own store without an agent: the agent of the other lines would otherwise still serve.
    store = f"sqlite:///{workdir / ('lineage.db' if agent else 'no-agent.db')}"
    env["THREADLINE_STORE"] = store
    if not agent:
        env["THREADLINE_AGENT_IDLE_SECONDS"] = "0"
        name += " (no writer agent)"
    plain: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    wrapped = [*threadline_argv(), "run", "--", *command]
    # One warm-up of each, not counted: the first run creates the store, starts the writer
    # agent and fills OS caches.
    timed(command, cwd, env)
    started = agent_cpu(store)
    first = timed(wrapped, cwd, env)
    agent_before = settled_agent_cpu(store)  # the agent finishes starting (opens the store)
    for _ in range(REPEAT):
        plain.append(timed(command, cwd, env))
        ours.append(timed(wrapped, cwd, env))
    # The agent writes what the last run handed over.
    agent_share = (settled_agent_cpu(store) - agent_before) / REPEAT * 1000
    plain_wall = statistics.median(w for w, _ in plain)
    plain_cpu = statistics.median(c for _, c in plain)
    ours_wall = statistics.median(w for w, _ in ours)
    ours_cpu = statistics.median(c for _, c in ours) + agent_share
    extra_wall = ours_wall - plain_wall
    extra_cpu = ours_cpu - plain_cpu
    wall_ok = "OK" if extra_wall <= WALL_TARGET_MS else "MISS"
    cpu_ok = "OK" if extra_cpu <= CPU_TARGET_MS else "MISS"
    print(f"{name}")
    if agent:
        print(
            f"  first run (starts the agent) wall {first[0]:7.1f} ms   cpu {first[1]:7.1f} ms"
            f" + agent start {(agent_before - started) * 1000:7.1f} ms"
        )
    print(f"  plain              wall {plain_wall:7.1f} ms   cpu {plain_cpu:7.1f} ms")
    print(
        f"  threadline run     wall {ours_wall:7.1f} ms   cpu {ours_cpu:7.1f} ms"
        f"  (of which the agent {agent_share:5.1f} ms per run)"
    )
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
        project = workdir / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text(PYPROJECT)
        (project / "write_csv.py").write_text(PANDAS_SCRIPT)
        # A project's files stand unchanged for a while: threadline keeps what a settings
        # file holds only once it has.
        time.sleep(SETTLED_SECONDS + 0.5)
        measure(
            "the same in a project folder with a pyproject.toml",
            [sys.executable, "write_csv.py"],
            workdir,
            cwd=project,
        )
        measure("python -c pass", [sys.executable, "-c", "pass"], workdir, agent=False)


if __name__ == "__main__":
    main()
