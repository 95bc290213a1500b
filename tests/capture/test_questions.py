"""A program that records and then asks sees what it recorded (read-your-writes)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = """
import threadline
with threadline.run("make", stage="features") as run:
    with open("out.csv", "w") as handle:
        handle.write("a\\n1\\n")
    run.wrote("out.csv")
ask = {ask}
print(len(ask("out.csv").nodes), "nodes")
"""


def run_script(
    folder: Path, ask: str, *, launched: bool = False
) -> subprocess.CompletedProcess[str]:
    (folder / "record_then_ask.py").write_text(textwrap.dedent(SCRIPT.format(ask=ask)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    # The longest batching window capture allows: events wait in the queue before the store.
    env |= {"THREADLINE_BATCH_WINDOW": "0.1", "THREADLINE_STORE": str(folder / "lineage.db")}
    # Under `threadline run` the events go through its supervisor, which may hold them a moment
    # to write them with the next ones, and its store's writer agent.
    launcher = [sys.executable, "-m", "threadline", "run", "--"] if launched else []
    return subprocess.run(
        [*launcher, sys.executable, "record_then_ask.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("launched", [False, True], ids=["python", "threadline run"])
def test_a_question_right_after_a_run_sees_that_run(tmp_path: Path, launched: bool) -> None:
    done = run_script(tmp_path, "threadline.trace", launched=launched)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("nodes\n")


@pytest.mark.parametrize("question", ["trace", "impact", "show", "diff", "log", "search"])
def test_every_public_question_waits_for_the_process_s_own_records(question: str) -> None:
    import threadline
    from threadline.capture import questions

    assert getattr(threadline, question) is getattr(questions, question)
