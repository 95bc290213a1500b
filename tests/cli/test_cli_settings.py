"""``threadline settings``: each setting's value here and where it came from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from threadline.config import SETTINGS


def settings_here(folder: Path, *args: str, **env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "threadline", *args, "settings", "--json"],
        cwd=folder,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = orjson.loads(done.stdout)
    return answer


def test_each_value_names_its_source(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('namespace = "fraud"\nbatch_size = 7\n')
    answer = settings_here(tmp_path, THREADLINE_BATCH_SIZE="9")
    rows = {row["name"]: row for row in answer["settings"]}
    assert [row["name"] for row in answer["settings"]] == [s.name for s in SETTINGS]
    assert (rows["namespace"]["value"], rows["namespace"]["from"]) == (
        "fraud",
        str(tmp_path / "threadline.toml"),
    )
    assert (rows["batch_size"]["value"], rows["batch_size"]["from"]) == (9, "THREADLINE_BATCH_SIZE")
    assert rows["queue_size"]["from"] == "default"
    assert answer["store_url"] == f"sqlite:///{tmp_path / '.threadline' / 'lineage.db'}"
    assert not (tmp_path / ".threadline").exists(), "showing the settings created the store"


def test_the_global_store_option_wins_and_says_so(tmp_path: Path) -> None:
    answer = settings_here(tmp_path, "--store", str(tmp_path / "other.db"))
    rows = {row["name"]: row for row in answer["settings"]}
    assert rows["store"]["from"] == "--store"
    assert answer["store_url"] == f"sqlite:///{tmp_path / 'other.db'}"


def test_the_table_lists_every_setting(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "threadline", "settings"],
        cwd=tmp_path,
        env={**clean, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    for setting in SETTINGS:
        assert setting.name in done.stdout
