"""``threadline run`` and ``threadline deploy`` on the Typer command line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threadline.capture import launch
from threadline.cli import app
from threadline.store import open_store


def test_run_help_lists_every_option_the_launcher_accepts() -> None:
    result = CliRunner().invoke(app, ["run", "--help"])
    assert result.exit_code == 0, result.output
    for name, metavar, _ in launch.RUN_OPTIONS:
        assert f"{name} {metavar}" in result.output


def test_run_takes_the_launcher_options_on_the_typer_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `threadline --store X run …` reaches the Typer command, which must accept what the
    # launcher accepts (here --store after run, which wins over the global one).
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("THREADLINE_STORE", raising=False)
    monkeypatch.delenv("THREADLINE_URL", raising=False)
    db = tmp_path / "chosen.db"
    result = CliRunner().invoke(
        app,
        [
            "--store",
            str(tmp_path / "global.db"),
            "run",
            "--job",
            "j",
            "--store",
            str(db),
            "--",
            sys.executable,
            "-c",
            "raise SystemExit(3)",
        ],
    )
    assert result.exit_code == 3, result.output
    assert not (tmp_path / "global.db").exists()
    store = open_store(db)
    try:
        assert store.counts()["runs"] == 1
    finally:
        store.close()
