"""What capture's own work at hooked calls cost a run, recorded on the run (``hookCost``)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from tests.support.runner import Project

from threadline.capture.hooks import _patch
from threadline.capture.hooks._patch import call_hooked, hook_cost, set_enabled, set_hook_cost
from threadline.capture.hooks.hook_cost import HookCost


def test_a_cost_counts_calls_and_sums_their_seconds() -> None:
    cost = HookCost()
    assert cost.facet() == {"calls": 0, "seconds": 0.0}
    cost.add(0.25)
    cost.add(0.00004)
    assert cost.facet() == {"calls": 2, "seconds": 0.25}
    assert cost.seconds == pytest.approx(0.25004)


def test_only_the_handler_of_an_outermost_hooked_call_is_accounted() -> None:
    cost = HookCost()
    previous, enabled = hook_cost(), _patch._enabled
    set_hook_cost(cost)
    set_enabled(True)  # an earlier test may have uninstalled its session's hooks
    try:

        def slow_original() -> str:
            time.sleep(0.2)  # the library's own time: not capture's
            return "result"

        def handler(owner: object, args: object, kwargs: object, result: object) -> None:
            time.sleep(0.02)
            # A hooked call made inside a handler is capture's own work, not a second call.
            call_hooked(lambda: None, "inner", lambda *_: time.sleep(1), None, (), {})

        assert call_hooked(slow_original, "test.call", handler, None, (), {}) == "result"
    finally:
        set_hook_cost(previous)
        set_enabled(enabled)
    assert cost.calls == 1
    assert 0.02 <= cost.seconds < 0.2


def test_a_run_records_what_its_hooked_calls_cost(tmp_path: Path) -> None:
    project = Project.beside(tmp_path)
    project.write(
        "job.py",
        """
        import pandas as pd

        pd.DataFrame({"v": range(2_000)}).to_csv("in.csv", index=False)
        frame = pd.read_csv("in.csv")
        (frame * 2).to_csv("out.csv", index=False)
        """,
    )
    done = project.python("job.py", THREADLINE_DEBUG="1")
    cost = project.graph().capture_facet("job.py")["hookCost"]
    # Two writes and a read, each handled once; what the debug log says each took adds up to
    # what the run records.
    logged = [float(ms) for ms in re.findall(r"\(([\d.]+) ms of capture\)", done.stderr)]
    assert cost["calls"] == len(logged) == 3
    assert cost["seconds"] == pytest.approx(sum(logged) / 1000, abs=0.0006)
    assert cost["seconds"] > 0


def test_a_run_that_made_no_hooked_call_records_no_cost(tmp_path: Path) -> None:
    project = Project.beside(tmp_path)
    project.write("job.py", "import pandas as pd\n\nprint(pd.__name__)\n")
    project.python("job.py")
    assert "hookCost" not in project.graph().capture_facet("job.py")
