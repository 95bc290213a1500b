"""The child bootstrap: capture starts only in a process ``threadline run`` launched, and a
supervisor it cannot reach never stops the program."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from threadline.capture.boundary import failures
from threadline.capture.child import bootstrap_child
from threadline.capture.launch import SOCKET_ENV


def test_no_socket_no_capture() -> None:
    assert bootstrap_child({}) is None


def test_an_unreachable_supervisor_is_reported_and_capture_stays_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["train.py"])
    monkeypatch.setattr(sys, "orig_argv", ["python", "train.py"])
    failures.clear()
    assert bootstrap_child({SOCKET_ENV: str(tmp_path / "gone.sock")}) is None
    assert failures["capture.bootstrap"] == 1
    failures.clear()


def test_a_worker_process_is_not_captured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["-c"])
    monkeypatch.setattr(sys, "orig_argv", ["python", "-c", "x", "--multiprocessing-fork"])
    assert bootstrap_child({SOCKET_ENV: "/nowhere.sock"}) is None
