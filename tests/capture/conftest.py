"""Fixtures for in-process capture tests: a real SQLite store and installed hooks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.capture_session import Captured

from threadline.capture.answers import Answers, in_process
from threadline.capture.boundary import failures
from threadline.capture.context import current_run
from threadline.capture.emitter import Emitter, StoreSink, set_emitter
from threadline.capture.hooks import Hooks
from threadline.capture.labels import Labels
from threadline.capture.recorder import Capture
from threadline.capture.recording import start_root
from threadline.store import open_store


@contextlib.contextmanager
def _session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **hooks: Any) -> Iterator[Captured]:
    monkeypatch.chdir(tmp_path)
    store = open_store(tmp_path / "lineage.db")
    emitter = Emitter(StoreSink(store), batch_window=0.01)
    previous = set_emitter(emitter)
    capture = Capture(
        job="test",
        namespace="default",
        labels=Labels.from_table({}, root=tmp_path),
        answers=Answers.opening(in_process),
    )
    root = start_root("test", stage=None, namespace="default", reason=None, info=capture.info)
    capture.root = root
    installed = Hooks(capture, **hooks)
    installed.install()
    failures.clear()
    try:
        yield Captured(capture, installed, store, emitter, root, tmp_path)
    finally:
        installed.uninstall()
        root.__exit__(None, None, None)
        emitter.flush(10)
        set_emitter(previous)
        emitter.close()
        assert current_run.get() is None


@pytest.fixture
def captured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    with _session(tmp_path, monkeypatch) as session:
        yield session


@pytest.fixture
def captured_on_a_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    """:func:`captured` whose following stops at its first look at a budget of nothing."""
    with _session(tmp_path, monkeypatch, flow_budget=1e-9, flow_grace=0.0) as session:
        yield session
