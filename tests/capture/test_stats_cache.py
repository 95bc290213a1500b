"""Column statistics of a file version read by an earlier run come from the on-disk cache:
the same numbers, not computed again; anything that changes them, or a damaged entry,
computes them afresh."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from threadline.capture import recorder, stats_cache
from threadline.capture.answers import Answers
from threadline.capture.column_stats import FACET, column_stats
from threadline.capture.labels import Labels
from threadline.capture.locations import locations
from threadline.capture.recorder import Capture


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder of this test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "threadline" / "column-stats"


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times statistics were computed (each call, the number of rows described)."""
    calls: list[int] = []

    def counting(obj: object) -> Any:
        calls.append(len(obj))  # type: ignore[arg-type]
        return column_stats(obj)

    monkeypatch.setattr(recorder, "column_stats", counting)
    return calls


def _run(folder: Path) -> Capture:
    """The capture of a new process: nothing remembered in memory."""
    return Capture(
        job="test",
        namespace="default",
        labels=Labels.from_table({}, root=folder),
        answers=Answers(None),
    )


def _read(capture: Capture, path: Path, **options: Any) -> tuple[pd.DataFrame, Any]:
    frame = pd.read_csv(path, **options)
    [location] = locations(str(path))
    artifact = capture.file_artifact(location, "dataset", obj=frame)
    assert artifact is not None
    return frame, artifact.facets.get(FACET)


def _write(path: Path, seed: int, rows: int = 3_000) -> None:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"])
    frame["kind"] = rng.choice(["x", "y", "z"], size=rows)
    frame.to_csv(path, index=False)


def test_a_later_run_recalls_the_statistics_of_a_file_it_reads_again(
    tmp_path: Path, cache: Path, computed: list[int]
) -> None:
    data = tmp_path / "data.csv"
    _write(data, 0)
    _frame, first = _read(_run(tmp_path), data)
    assert computed == [3_000]
    assert len(list(cache.glob("*.json"))) == 1

    frame, again = _read(_run(tmp_path), data)
    assert computed == [3_000], "a later run computed the statistics again"
    # The numbers computing them now gives, bit for bit (floats survive the JSON).
    assert again == first == column_stats(frame)
    assert again is not None
    assert again["columns"]["a"]["type"] == "numeric"


def test_a_file_read_under_another_name_with_the_same_bytes_shares_them(
    tmp_path: Path, cache: Path, computed: list[int]
) -> None:
    _write(tmp_path / "one.csv", 0)
    (tmp_path / "two.csv").write_bytes((tmp_path / "one.csv").read_bytes())
    _read(_run(tmp_path), tmp_path / "one.csv")
    _read(_run(tmp_path), tmp_path / "two.csv")
    assert computed == [3_000]


@pytest.mark.parametrize(
    ("change", "options"),
    [
        ("content", {}),
        ("columns", {"usecols": ["a", "kind"]}),
        ("rows", {"nrows": 1_000}),
        ("types", {"dtype": {"a": "float32"}}),
    ],
)
def test_what_decides_the_statistics_computes_them_afresh(
    tmp_path: Path, cache: Path, computed: list[int], change: str, options: dict[str, Any]
) -> None:
    data = tmp_path / "data.csv"
    _write(data, 0)
    _read(_run(tmp_path), data)
    if change == "content":
        _write(data, 1)
    frame, stats = _read(_run(tmp_path), data, **options)
    assert len(computed) == 2
    assert stats == column_stats(frame)


def test_edited_statistics_code_does_not_recall_what_older_code_computed(
    tmp_path: Path, cache: Path, computed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data.csv"
    _write(data, 0)
    _read(_run(tmp_path), data)
    monkeypatch.setattr(stats_cache, "_code_stamp", "0.1.0:another-file")
    _read(_run(tmp_path), data)
    assert len(computed) == 2


@pytest.mark.parametrize(
    "damage",
    [b"", b'{"stats": {"rows": 3', b"[1, 2]", b'{"stats": 7}', b'{"other": {}}', b"\xff\xfe"],
)
def test_a_damaged_entry_is_computed_again_and_replaced(
    tmp_path: Path, cache: Path, computed: list[int], damage: bytes
) -> None:
    data = tmp_path / "data.csv"
    _write(data, 0)
    _frame, first = _read(_run(tmp_path), data)
    [entry] = cache.glob("*.json")
    entry.write_bytes(damage)
    frame, stats = _read(_run(tmp_path), data)
    assert len(computed) == 2
    assert stats == first == column_stats(frame)
    _read(_run(tmp_path), data)
    assert len(computed) == 2, "the damaged entry was not replaced"


def test_a_frame_without_statistics_is_remembered_as_such(
    tmp_path: Path, cache: Path, computed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data.csv"
    _write(data, 0)

    def none(obj: object) -> None:
        computed.append(len(obj))  # type: ignore[arg-type]

    monkeypatch.setattr(recorder, "column_stats", none)
    assert _read(_run(tmp_path), data)[1] is None
    assert _read(_run(tmp_path), data)[1] is None
    assert computed == [3_000]


def test_without_a_usable_cache_folder_statistics_are_computed_every_time(
    tmp_path: Path, computed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data.csv"
    _write(data, 0)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    for base in (str(blocker), "relative/cache"):
        monkeypatch.setenv("XDG_CACHE_HOME", base)
        frame, stats = _read(_run(tmp_path), data)
        assert stats == column_stats(frame)
    assert len(computed) == 2
    assert not Path("relative").exists()


def test_pruning_keeps_the_entries_used_last_and_removes_abandoned_writes(tmp_path: Path) -> None:
    place = tmp_path / "entries"
    place.mkdir()
    now = 1_700_000_000
    for n in range(30):
        entry = place / f"{n:040x}.json"
        entry.write_text('{"stats": null}')
        os.utime(entry, (now + n, now + n))
    old = place / ".x.json.1.partial"
    old.write_text("{")
    os.utime(old, (now - 7_200, now - 7_200))
    fresh = place / ".y.json.2.partial"
    fresh.write_text("{")
    stats_cache.prune(str(place), most=30, kept=10)
    assert len(list(place.glob("*.json"))) == 30, "pruned before reaching the bound"
    (place / f"{30:040x}.json").write_text('{"stats": null}')
    stats_cache.prune(str(place), most=30, kept=10)
    left = sorted(int(p.stem, 16) for p in place.glob("*.json"))
    assert left == list(range(21, 31))
    assert not old.exists()
    assert fresh.exists()


def test_a_column_name_json_cannot_hold_is_described_without_the_cache(
    tmp_path: Path, cache: Path, computed: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # (pandas cannot hold such a name in an Arrow-backed column index; other frames can.)
    assert stats_cache.entry_name("b3:" + "0" * 64, [("bad\udcff", "float64")], 10) is None
    monkeypatch.setattr(stats_cache, "entry_name", lambda *_args: None)
    data = tmp_path / "data.csv"
    _write(data, 0)
    for _ in range(2):
        frame, stats = _read(_run(tmp_path), data)
        assert stats == column_stats(frame)
    assert len(computed) == 2
    assert not cache.exists()


def test_recalling_an_entry_marks_it_used(tmp_path: Path, cache: Path) -> None:
    name = stats_cache.entry_name("b3:" + "0" * 64, [("a", "float64")], 10)
    assert name is not None
    stats_cache.keep(name, {"rows": 10, "columns": {}})
    entry = cache / name
    os.utime(entry, (1_000_000_000, 1_000_000_000))
    assert stats_cache.recalled(name) == (True, {"rows": 10, "columns": {}})
    assert entry.stat().st_mtime > 1_000_000_000
    assert stats_cache.recalled("absent.json") == (False, None)
