"""``threadline run`` and ``threadline deploy`` on the Typer command line."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.runner import Project as Folder
from typer.testing import CliRunner

from threadline.capture import launch
from threadline.cli import app
from threadline.store import open_store


def test_run_help_lists_every_option_the_launcher_accepts() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    usage = result.output.splitlines()[0]
    assert usage.endswith("run [OPTIONS] [--] COMMAND [ARGS]..."), usage  # the command, too
    for name, metavar, _ in launch.RUN_OPTIONS:
        assert f"{name} {metavar}" in result.output
    # ...and no option the launcher would refuse: each listed one parses, in both spellings.
    listed = re.findall(r"^\s+(--[a-z-]+) ([A-Z|]+)\s", result.output, flags=re.MULTILINE)
    assert {name for name, _ in listed} == {name for name, _, _ in launch.RUN_OPTIONS}
    for name, _ in listed:
        key = name[2:]
        assert launch.parse_run_args([name, "v", "python"]) == ({key: "v"}, ["python"])
        assert launch.parse_run_args([f"{name}=v", "python"]) == ({key: "v"}, ["python"])


def test_run_namespace_names_the_jobs(tmp_path: Path) -> None:
    folder = Folder(root=tmp_path.resolve(), db=tmp_path / "lineage.db")
    folder.write("job.py", "import threadline\nwith threadline.run('step'):\n    pass\n")
    folder.python("job.py", options=("--namespace", "churn"))
    graph = folder.graph()
    assert {(n.namespace, n.name) for n in graph.nodes.values()} == {
        ("churn", "job.py"),
        ("churn", "step"),
    }


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


def _deploy(tmp_path: Path, model: str) -> subprocess.CompletedProcess[str]:
    """``threadline --store lineage.db deploy MODEL --endpoint x``, in its own process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    store = str(tmp_path / "lineage.db")
    return subprocess.run(
        [sys.executable, "-m", "threadline", "--store", store, "deploy", model, "--endpoint", "x"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _recorded_runs(tmp_path: Path) -> int:
    store = open_store(tmp_path / "lineage.db")
    try:
        return int(store.counts()["runs"])
    finally:
        store.close()


def test_deploy_refuses_a_dataset_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "raw.csv").write_text("a,b\n1,2\n")
    done = _deploy(tmp_path, "raw.csv")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: raw.csv is not a saved model")
    assert _recorded_runs(tmp_path) == 0


def test_deploy_refuses_a_file_recorded_as_a_dataset_and_takes_a_recorded_model(
    tmp_path: Path,
) -> None:
    (tmp_path / "raw.csv").write_text("a,b\n1,2\n")
    (tmp_path / "weights.bin").write_text("any format a custom hook writes")
    script = (
        "import threadline\n"
        "with threadline.run('train') as r:\n"
        "    r.read('raw.csv')\n"
        "    r.wrote('weights.bin', kind='model')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    env["THREADLINE_STORE"] = str(tmp_path / "lineage.db")
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True, timeout=120)

    refused = _deploy(tmp_path, "raw.csv")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.strip().endswith("a model version or a saved model file")
    assert "recorded with kind dataset" in refused.stderr
    deployed = _deploy(tmp_path, "weights.bin")  # not a format capture knows, but recorded
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.startswith("deployment:")
    saved = tmp_path / "model.pkl"
    saved.write_bytes(pickle.dumps({"weights": [1.0]}))  # never recorded, a model format
    assert _deploy(tmp_path, "model.pkl").returncode == 0
