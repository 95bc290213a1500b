"""kill -9 under ``threadline run``: of the command, of its supervisor, and of both.

Each time the command records forty steps, each writing a file, and is killed after twenty:
* the command: the supervisor ends its open runs as FAIL with the signal;
* the supervisor: the command writes its own lineage from then on, the journal included;
* both: the next ``threadline run`` on the host writes the dead supervisor's journal and closes
  the dead command's runs as ABORT.
Every run ends in a terminal state, every step acknowledged before the kill is stored, and the
store verifies.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tests.support.runner import read_graph

from threadline.store import normalize_url, open_store
from threadline.store.writer_agent import agent_paths

STEPS = 40
KILLED_AT = 20
TERMINAL = {"COMPLETE", "FAIL", "ABORT"}

SCRIPT = """
import os, signal, sys, time
import threadline
victims = {{"command": [os.getpid()], "supervisor": [os.getppid()],
            "both": [os.getppid(), os.getpid()]}}[sys.argv[1]]
for n in range({steps}):
    if n == {killed_at}:
        threadline.flush()  # acknowledged by the supervisor: it must not be lost
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)
    with threadline.run(f"step-{{n}}") as step:
        with open(f"out-{{n}}.txt", "w") as handle:
            handle.write(str(n))
        step.wrote(f"out-{{n}}.txt")
"""


def threadline_run(folder: Path, *command: str) -> int:
    with (folder / "output.log").open("a") as log:
        launched = subprocess.Popen(
            [sys.executable, "-m", "threadline", "--store", "lineage.db", "run", "--", *command],
            cwd=folder,
            stdout=log,
            stderr=log,
        )
        return launched.wait(timeout=120)


def settle(folder: Path, last_file: str) -> None:
    """A command that outlived its supervisor writes on after ``threadline run`` returned."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (folder / last_file).exists():
        time.sleep(0.1)
    time.sleep(1.5)


def agent_log(db: Path) -> str:
    """What the store's writer agent reported (it writes the dead supervisor's journal)."""
    path = Path(agent_paths(normalize_url(db)).log)
    return f"\n--- writer agent log:\n{path.read_text()}" if path.exists() else ""


@pytest.mark.parametrize("victim", ["command", "supervisor", "both"])
def test_every_run_ends_and_nothing_acknowledged_is_lost(tmp_path: Path, victim: str) -> None:
    (tmp_path / "steps.py").write_text(
        textwrap.dedent(SCRIPT.format(steps=STEPS, killed_at=KILLED_AT))
    )
    threadline_run(tmp_path, sys.executable, "steps.py", victim)
    settle(tmp_path, f"out-{STEPS - 1}.txt" if victim == "supervisor" else "out-0.txt")
    if victim == "both":
        # The next command on this host is the next writer: it cleans up after the dead.
        (tmp_path / "next.py").write_text(
            "import threadline\nwith threadline.run('next') as step:\n    pass\n"
        )
        threadline_run(tmp_path, sys.executable, "next.py")

    graph = read_graph(tmp_path / "lineage.db", tmp_path)
    runs = {graph.nodes[r.job_node_id].name: r for r in graph.runs}
    steps = {name.rsplit(".", 1)[-1] for name in runs}
    log = (tmp_path / "output.log").read_text() + agent_log(tmp_path / "lineage.db")
    assert {name: r.state for name, r in runs.items() if r.state not in TERMINAL} == {}, log
    expected = STEPS if victim == "supervisor" else KILLED_AT
    recorded = {f"step-{n}" for n in range(expected)}
    assert recorded <= steps, f"missing {sorted(recorded - steps)}\n{log}"
    if victim != "supervisor":
        assert "steps.py" in runs, f"no script run among {sorted(runs)}\n{log}"
        script_run = runs["steps.py"]
        assert script_run.state == ("FAIL" if victim == "command" else "ABORT")
    with open_store(tmp_path / "lineage.db") as store:
        assert store.verify().ok
