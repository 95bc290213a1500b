"""What following data through frame operations may cost: past its budget capture stops
following, the library's own methods come back, and lineage turns coarse, never incomplete."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from tests.support.capture_session import Captured
from tests.support.runner import Project

from threadline.capture.hooks._patch import (
    WRAPPED_ATTR,
    _stop_following_if_over,
    flow_budget,
    set_flow_budget,
    suspended,
)
from threadline.capture.hooks.flow_budget import (
    CALL_SECONDS,
    CHECK_EVERY,
    GRACE_SECONDS,
    FlowBudget,
)


def _files(captured: Captured, label: str) -> set[str]:
    return {n for n in captured.upstream(label) if n.startswith("dataset:")}


def _follow_until_stopped(frame: pd.DataFrame) -> int:
    """Frame operations until following stops; how many were made."""
    for made in range(1, 4 * CHECK_EVERY):
        frame = frame + 0
        if flow_budget().stopped is not None:
            return made
    raise AssertionError(f"following went on past {4 * CHECK_EVERY} operations")


def test_a_spent_budget_takes_the_following_wrappers_off_and_keeps_the_others(
    captured_on_a_budget: Captured,
) -> None:
    with suspended():
        pd.DataFrame({"v": [1.0, 2.0]}).to_csv("a.csv", index=False)
    a = pd.read_csv("a.csv")
    assert hasattr(vars(pd.DataFrame)["merge"], WRAPPED_ATTR)
    assert _follow_until_stopped(a) <= CHECK_EVERY
    for method in ("merge", "__init__", "to_numpy"):
        assert not hasattr(vars(pd.DataFrame)[method], WRAPPED_ATTR), method
    assert not hasattr(vars(pd.core.generic.NDFrame)["__finalize__"], WRAPPED_ATTR)
    assert not hasattr(pd.concat, WRAPPED_ATTR)
    assert hasattr(vars(pd.DataFrame)["to_csv"], WRAPPED_ATTR)  # reads and writes: still hooked
    assert flow_budget().facet()["followed"] is False


def test_after_the_stop_what_is_written_derives_from_every_file_read(
    captured_on_a_budget: Captured,
) -> None:
    with suspended():
        pd.DataFrame({"k": [1, 2], "v": [1.0, 2.0]}).to_csv("a.csv", index=False)
        pd.DataFrame({"k": [1, 2], "c": [7.0, 8.0]}).to_csv("b.csv", index=False)
        pd.DataFrame({"k": [1, 2], "x": [0.5, 0.1]}).to_csv("late.csv", index=False)
    a, b = pd.read_csv("a.csv"), pd.read_csv("b.csv")
    only_a = a[["v"]] * 2  # followed: from a.csv alone
    only_a.to_csv("early.csv", index=False)
    _follow_until_stopped(a)
    # Changed where no hook follows any more: it must not keep its old lineage.
    only_a["w"] = b["c"].to_numpy()
    only_a.to_csv("mixed.csv", index=False)
    late = pd.read_csv("late.csv")  # read after the stop, then changed unseen
    late["y"] = a["v"].to_numpy()
    late.to_csv("from-late.csv", index=False)
    assert _files(captured_on_a_budget, "dataset:early.csv") == {"dataset:a.csv"}
    assert _files(captured_on_a_budget, "dataset:mixed.csv") >= {"dataset:a.csv", "dataset:b.csv"}
    assert _files(captured_on_a_budget, "dataset:from-late.csv") >= {
        "dataset:a.csv",
        "dataset:late.csv",
    }


def test_the_budget_is_a_share_of_the_time_past_a_grace() -> None:
    budget = FlowBudget(0.01, since=100.0, grace=0.25)
    budget.spent = 0.2
    assert not budget.over(110.0)  # under the grace
    budget.spent = 0.3
    assert budget.over(110.0)  # past the grace and 1 % of 10 s
    assert not budget.over(150.0)  # 1 % of 50 s is more
    budget.calls = 300_000  # calls count too, at their estimated cost
    assert budget.cost() == pytest.approx(0.3 + 300_000 * CALL_SECONDS)
    assert budget.over(150.0)
    assert not FlowBudget(None, since=0.0).over(1e9)  # no share: no limit


def test_the_budget_stops_following_once_and_says_so() -> None:
    told: list[tuple[float, float]] = []
    budget = FlowBudget(0.01, since=100.0, grace=0.0, on_spent=lambda *a: told.append(a))
    budget.spent = 1.0
    assert budget.facet() == {"followed": True, "costSeconds": 1.0, "calls": 0}
    budget.stop(112.5)
    assert told == [(12.5, 1.0)]
    assert not budget.over(200.0)  # stopped: nothing more to decide
    assert budget.facet() == {
        "followed": False,
        "costSeconds": 1.0,
        "calls": 0,
        "stoppedAfterSeconds": 12.5,
    }


class _FoundSpentTogether(FlowBudget):
    """A budget two threads find spent at the same moment: its first two looks wait for
    each other."""

    def __init__(self) -> None:
        super().__init__(
            0.01, since=time.perf_counter(), grace=0.0, on_spent=lambda *_: self.told.append(1)
        )
        self.told: list[int] = []
        self.looks = 0
        self.together = threading.Barrier(2, timeout=10)

    def over(self, now: float) -> bool:
        spent = super().over(now)
        self.looks += 1
        if self.looks <= 2:
            self.together.wait()
        return spent


def test_threads_that_find_the_budget_spent_together_stop_following_once() -> None:
    budget = _FoundSpentTogether()
    budget.spent = 1.0
    set_flow_budget(budget)
    try:
        threads = [threading.Thread(target=_stop_following_if_over, args=(budget,)) for _ in "ab"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        set_flow_budget(FlowBudget(None, since=0.0))
    assert budget.told == [1]


def test_a_run_records_what_following_cost_and_when_it_stopped(tmp_path: Path) -> None:
    project = Project.beside(tmp_path)
    project.write(
        "loop.py",
        """
        import pandas as pd
        from threadline.capture.hooks._patch import flow_budget

        pd.DataFrame({"v": range(50)}).to_csv("in.csv", index=False)
        frame = pd.read_csv("in.csv")
        while flow_budget().stopped is None:
            frame = (frame + 1) - 1
        frame.to_csv("out.csv", index=False)
        """,
    )
    project.python("loop.py", THREADLINE_FLOW_BUDGET="0.0001")
    graph = project.graph()
    flow = graph.capture_facet("loop.py")["flow"]
    assert flow["followed"] is False
    assert flow["costSeconds"] >= GRACE_SECONDS
    assert flow["stoppedAfterSeconds"] > 0
    labels = {graph.name(v) for v in graph.versions}
    [written] = {n for n in labels if n.endswith(":out.csv") and not n.startswith("job:")}
    assert "dataset:in.csv" in graph.data_upstream(written)
