"""The public surface: ``__all__`` is sorted, complete and importable, and import stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import threadline
import threadline.errors
from tests.support.graphs import pipeline_store
from threadline import query


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert threadline.__all__ == sorted(threadline.__all__)
    for name in threadline.__all__:
        assert getattr(threadline, name) is not None


def test_public_names_are_exactly_all() -> None:
    public = {name for name in dir(threadline) if not name.startswith("_")}
    assert public == {n for n in threadline.__all__ if not n.startswith("_")}


def test_import_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, threadline;"
        "heavy = [m for m in ('sqlalchemy', 'pandas', 'numpy', 'sklearn', 'fastapi', 'rich', 'typer')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


QUESTIONS = """
import json, sys, threadline
print(json.dumps({
    "trace": threadline.trace("dataset:file://h/preds").to_dict(),
    "impact": threadline.impact("dataset:file://h/raw_a@b3:a1").to_dict(),
    "show": threadline.show("dataset:file://h/model_b").to_dict(),
    "diff": threadline.diff("dataset:file://h/model_a", "dataset:file://h/model_b").to_dict(),
    "log": threadline.log(limit=3).to_dict(),
    "search": threadline.search("model").to_dict(),
}, default=str))
"""


def test_the_questions_ask_the_configured_store_when_none_is_given(tmp_path: Path) -> None:
    # The store a threadline.toml names, as capture would record into it.
    with pipeline_store("sqlite", tmp_path) as store:
        expected = {
            "trace": query.trace(store, "dataset:file://h/preds").to_dict(),
            "impact": query.impact(store, "dataset:file://h/raw_a@b3:a1").to_dict(),
            "show": query.show(store, "dataset:file://h/model_b").to_dict(),
            "diff": query.diff(store, "dataset:file://h/model_a", "dataset:file://h/model_b"),
            "log": query.log(store, 3).to_dict(),
            "search": query.search(store, "model").to_dict(),
        }
        expected["diff"] = expected["diff"].to_dict()
    project = tmp_path / "project"
    project.mkdir()
    (project / "threadline.toml").write_text('store = "../lineage.db"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    done = subprocess.run(
        [sys.executable, "-c", QUESTIONS],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(json.dumps(expected, default=str))


def test_a_store_first_by_path_or_keyword_gives_the_same_answer(tmp_path: Path) -> None:
    with pipeline_store("sqlite", tmp_path) as store:
        ref = "dataset:file://h/preds"
        answer = threadline.trace(store, ref).to_dict()
        path = tmp_path / "lineage.db"
        assert threadline.trace(str(path), ref).to_dict() == answer
        assert threadline.trace(ref, store=path).to_dict() == answer
        assert threadline.trace(ref, store=store).to_dict() == answer
        assert threadline.log(store).to_dict() == threadline.log(path).to_dict()
        assert threadline.search(store, "model") == threadline.search("model", store=path)
        a, b = "dataset:file://h/model_a", "dataset:file://h/model_b"
        assert threadline.diff(store, a, b) == threadline.diff(a, b, store=path)
        # A store passed in stays open for the caller.
        assert store.counts()["nodes"] > 0


def test_a_question_never_creates_a_store_and_refuses_two_stores(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "lineage.db"
    with pytest.raises(threadline.errors.StoreUnavailable, match="no store at"):
        threadline.trace("x.csv", store=missing)
    assert not missing.parent.exists()
    with pipeline_store("sqlite", tmp_path) as store:
        with pytest.raises(threadline.errors.UsageError, match="given twice"):
            threadline.trace(store, "dataset:file://h/preds", store=store)
        with pytest.raises(threadline.errors.UsageError, match="which version"):
            threadline.trace(store)
