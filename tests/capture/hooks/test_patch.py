"""Safety: hooks never change what user code returns or raises, and undo cleanly."""

from __future__ import annotations

import pickle
import re
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from tests.support.capture_session import Captured

from threadline.capture.boundary import failures
from threadline.capture.hooks import _patch
from threadline.capture.hooks._patch import WRAPPED_ATTR, depth, set_debug, suspended


def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.3, 0.9], "y": [0, 1, 0, 1]})


def test_a_failing_hook_leaves_results_untouched_and_is_reported_once(
    captured: Captured, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with suspended():
        frame().to_csv("in.csv", index=False)
    expected = pd.read_csv.__wrapped__("in.csv")  # type: ignore[attr-defined]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(captured.capture, "read", broken)
    first = pd.read_csv("in.csv")
    second = pd.read_csv("in.csv")
    pd.testing.assert_frame_equal(first, expected)
    pd.testing.assert_frame_equal(second, expected)
    err = capsys.readouterr().err
    assert err.count("capture failed in pandas.read_csv: OSError: disk full") == 1
    assert failures["pandas.read_csv"] == 2
    assert captured.capture.info()["failures"] == 2
    assert depth() == 0


def test_user_exceptions_pass_through_unchanged(captured: Captured) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        pd.read_csv("missing.csv")
    assert "missing.csv" in str(caught.value)
    with pytest.raises(ValueError, match="Found input variables with inconsistent numbers"):
        LinearRegression().fit(np.zeros((3, 1)), np.zeros(2))
    # The user's own frame is the innermost one that raised, not a threadline frame.
    frames = traceback.extract_tb(caught.value.__traceback__)
    assert "threadline" not in frames[-1].filename
    assert depth() == 0
    assert not failures


class Odd:
    """No content fingerprint exists for it."""

    __hash__ = None  # type: ignore[assignment]


def test_unhashable_and_exotic_objects_are_fine(captured: Captured, tmp_path: Path) -> None:
    with open(tmp_path / "odd.pkl", "wb") as handle:
        pickle.dump({"odd": Odd(), "set": {1, 2}}, handle)
    with open(tmp_path / "odd.pkl", "rb") as handle:
        loaded = pickle.load(handle)
    assert set(loaded) == {"odd", "set"}
    assert not failures
    assert ("dataset:odd.pkl", "input", "job:test/write:odd.pkl") not in captured.edges()


def test_available_if_methods_keep_their_meaning(captured: Captured) -> None:
    assert not hasattr(SVC(), "predict_proba")
    assert hasattr(SVC(probability=True), "predict_proba")
    regression = make_pipeline(StandardScaler(), LinearRegression())
    assert not hasattr(regression, "predict_proba")
    assert hasattr(regression, "predict")
    classifier = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        frame()[["a", "b"]], frame()["y"]
    )
    assert classifier.predict_proba(frame()[["a", "b"]]).shape == (4, 2)


def test_estimators_still_pickle_and_clone(captured: Captured) -> None:
    from sklearn.base import clone

    model = LogisticRegression(C=0.5).fit(frame()[["a", "b"]], frame()["y"])
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.coef_, model.coef_)
    assert clone(model).get_params() == model.get_params()


def test_uninstall_restores_every_original(captured: Captured) -> None:
    assert hasattr(pd.read_csv, WRAPPED_ATTR)
    assert "__new__" in vars(BaseEstimator)
    assert hasattr(vars(LogisticRegression)["fit"], WRAPPED_ATTR) or hasattr(
        LogisticRegression.fit, WRAPPED_ATTR
    )
    captured.hooks.uninstall()
    assert not hasattr(pd.read_csv, WRAPPED_ATTR)
    assert not hasattr(pd.DataFrame.to_csv, WRAPPED_ATTR)
    assert LogisticRegression(C=2.0).C == 2.0  # BaseEstimator.__new__ stays, inert
    assert not hasattr(LogisticRegression.fit, WRAPPED_ATTR)
    assert not hasattr(pd.core.generic.NDFrame.__finalize__, WRAPPED_ATTR)
    captured.hooks.install()  # the fixture's teardown uninstalls again


def test_operation_wrappers_answer_only_calls_from_user_code(captured: Captured) -> None:
    import json

    from threadline.capture.hooks._patch import Patcher

    seen: list[str] = []

    class Table:
        def combine(self, other: object) -> str:
            return "combined"

    def handler(owner: object, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        seen.append(result)

    patcher = Patcher()
    assert patcher.operation(Table, "combine", handler)
    assert not patcher.operation(Table, "combine", handler)  # never wrapped twice
    table = Table()
    assert table.combine(1) == "combined"
    assert seen == ["combined"]
    # pandas calling it is part of an operation whose own result is followed: no answer.
    inside_pandas: dict[str, Any] = {"__name__": "pandas.core.frame", "table": table}
    exec("result = table.combine(2)", inside_pandas)
    assert inside_pandas["result"] == "combined"
    assert seen == ["combined"]
    # A library no hook follows (json) counts as user code: its call is answered.
    assert json.JSONEncoder(default=lambda o: table.combine(o)).encode(object()) == '"combined"'
    assert seen == ["combined", "combined"]
    patcher.undo()
    assert not hasattr(Table.combine, WRAPPED_ATTR)


def test_a_failing_operation_handler_leaves_the_result_untouched(captured: Captured) -> None:
    from threadline.capture.hooks._patch import Patcher

    class Table:
        def combine(self) -> int:
            return 7

    def broken(*_: Any) -> None:
        raise RuntimeError("capture bug")

    patcher = Patcher()
    patcher.operation(Table, "combine", broken)
    failures.clear()
    try:
        assert Table().combine() == 7
        assert sum(failures.values()) == 1
    finally:
        patcher.undo()


def test_debug_names_each_hooked_call_with_what_capture_added(
    captured: Captured, capsys: pytest.CaptureFixture[str]
) -> None:
    with suspended():
        frame().to_csv("in.csv", index=False)
    set_debug(True)
    try:
        pd.read_csv("in.csv")
    finally:
        set_debug(False)
    pd.read_csv("in.csv")  # debug off: nothing said
    lines = [line for line in capsys.readouterr().err.splitlines() if "threadline: hook" in line]
    assert len(lines) == 1, lines
    assert re.fullmatch(r"threadline: hook pandas\.read_csv \(\d+\.\d ms of capture\)", lines[0])


def _annotated(frame: pd.DataFrame, n: int = 1) -> pd.DataFrame:
    """Takes ``n`` rows."""
    return frame.head(n)


_annotated.custom = "kept"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "make",
    [
        lambda f: _patch.hook_function(f, "x", lambda *a: None),
        lambda f: _patch.hook_method(f, "x", lambda *a: None),
        lambda f: _patch.flow_method(f, lambda *a: None),
        lambda f: _patch.operation_method(f, lambda *a: None),
        lambda f: _patch.operation_function(f, lambda *a: None),
    ],
)
@pytest.mark.parametrize("original", [_annotated, len, pd.DataFrame.head])
def test_every_wrapper_wears_its_originals_identity_as_functools_wraps_gives_it(
    make: Any, original: Any
) -> None:
    import functools
    import inspect

    wrapper = make(original)

    def reference() -> None: ...

    functools.update_wrapper(reference, original)
    for name in ("__module__", "__name__", "__qualname__", "__doc__", "__wrapped__"):
        assert getattr(wrapper, name) == getattr(reference, name), name
    if hasattr(original, "__annotations__"):
        assert wrapper.__annotations__ == original.__annotations__
    assert {k: v for k, v in vars(wrapper).items() if k != WRAPPED_ATTR} == vars(reference)
    assert getattr(wrapper, WRAPPED_ATTR) is original
    if original is not len:
        assert inspect.signature(wrapper) == inspect.signature(original)
