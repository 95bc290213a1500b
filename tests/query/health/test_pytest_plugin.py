"""The pytest plugin in a user's own test suite (a real pytest subprocess): the
``threadline_health`` fixture's invariants and ``--threadline-health`` as a session gate."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support.graphs import build_store

PLUGIN = "threadline.query.health.pytest_plugin"
ROOT = Path(__file__).resolve().parents[3]

USER_TESTS = """
def test_models_trace_to_pii(threadline_health):
    threadline_health.assert_traces_to("pii", kind="model", namespace="t")

def test_models_trace_to_reviewed(threadline_health):
    threadline_health.assert_traces_to("pii-reviewed", kind="model", namespace="t")

def test_no_errors(threadline_health):
    threadline_health.assert_healthy(fail_on="error")

def test_no_warnings(threadline_health):
    threadline_health.assert_healthy(fail_on="warn", checks=["orphans"])
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THREADLINE_", "PYTEST_"))}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            # No -p: the installed package registers the plugin (entry point pytest11), as it
            # does for a team's own suite.
            "-p",
            "no:cacheprovider",
            "--threadline-store",
            str(folder / "lineage.db"),
            *args,
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_the_fixture_asserts_lineage_invariants(tmp_path: Path) -> None:
    build_store(tmp_path / "lineage.db").close()
    (tmp_path / "test_lineage.py").write_text(USER_TESTS)
    done = _pytest(tmp_path, "-q", "test_lineage.py")
    assert done.returncode == 1, done.stdout
    out = done.stdout
    assert "2 failed, 2 passed" in out
    assert "FAILED test_lineage.py::test_models_trace_to_reviewed" in out
    assert "3 model(s) break the invariant" in out
    assert "no raw source labelled 'pii-reviewed' upstream of this model" in out
    assert "FAILED test_lineage.py::test_no_warnings" in out
    assert "model_never_evaluated model:file://h/model_c" in out


def test_the_health_option_gates_the_session(tmp_path: Path) -> None:
    build_store(tmp_path / "lineage.db").close()
    (tmp_path / "test_nothing.py").write_text("def test_ok():\n    pass\n")
    errors_only = _pytest(tmp_path, "--threadline-health", "test_nothing.py")
    assert errors_only.returncode == 0, errors_only.stdout
    assert "threadline lineage health" in errors_only.stdout
    assert "0 error, 5 warn, 3 info (fail on error)" in errors_only.stdout
    warnings = _pytest(
        tmp_path, "--threadline-health", "--threadline-health-fail-on", "warn", "test_nothing.py"
    )
    assert warnings.returncode == 1
    assert "warn  input_never_produced dataset:file://h/raw_a" in warnings.stdout


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {"threadline": PLUGIN}
