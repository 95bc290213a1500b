"""``threadline health``: the report as a table and as JSON, and ``--fail-on`` as a CI gate
(exit codes from a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.graphs import build_store


def _health(store: Path, *extra: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "threadline", "--store", str(store), "health", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "COLUMNS": "250"},
        cwd=cwd,
    )


def test_health_prints_findings_and_gates_on_severity(tmp_path: Path) -> None:
    path = tmp_path / "lineage.db"
    build_store(path).close()
    table = _health(path, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "input_never_produced" in table.stdout
    assert "model_never_evaluated" in table.stdout
    assert "findings: 0 error, 5 warn, 3 info" in table.stdout
    report = json.loads(_health(path, "--json", "--check", "orphans", cwd=tmp_path).stdout)
    assert report["checks"] == ["orphans"]
    assert report["counts"] == {"info": 3, "warn": 1, "error": 0}
    assert {f["check"] for f in report["findings"]} == {
        "model_never_evaluated",
        "model_never_deployed",
    }
    # The pipeline has warnings but no errors: a warn gate fails, an error gate passes.
    assert _health(path, "--fail-on", "warn", cwd=tmp_path).returncode == 1
    assert _health(path, "--fail-on", "error", cwd=tmp_path).returncode == 0
    assert not json.loads(_health(path, "--json", "--namespace", "nope", cwd=tmp_path).stdout)[
        "findings"
    ]


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "lineage.db"
    build_store(path).close()
    wrong = _health(path, "--fail-on", "info", cwd=tmp_path)
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "error: --fail-on takes warn or error, not 'info'"
    family = _health(path, "--check", "gap", cwd=tmp_path)
    assert family.returncode == 2
    assert "unknown health check 'gap'" in family.stderr
    missing = _health(tmp_path / "none.db", cwd=tmp_path)
    assert missing.returncode == 4
