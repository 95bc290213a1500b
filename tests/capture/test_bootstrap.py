"""The ``threadline run`` bootstrap: child environment, worker detection, the supervisor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from threadline.capture.bootstrap import (
    JOB_ENV,
    SITE_DIR,
    SOCKET_ENV,
    SocketSink,
    Supervisor,
    SupervisorOracle,
    child_environment,
    default_job,
    is_worker_process,
    run_command,
)
from threadline.errors import UsageError
from threadline.model.ids import NodeId
from threadline.store import open_store


def test_child_environment_is_the_child_only(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"PYTHONPATH": "/x", "THREADLINE_RUN_STAGE": "stale", "HOME": "/h"}
    env = child_environment(base, socket_path="/s", job="j", stage=None, reason=None, store="/db")
    assert env["PYTHONPATH"] == f"{SITE_DIR}{os.pathsep}/x"
    assert env[SOCKET_ENV] == "/s"
    assert env[JOB_ENV] == "j"
    assert "THREADLINE_RUN_STAGE" not in env
    assert env["THREADLINE_STORE"] == "/db"
    assert base == {"PYTHONPATH": "/x", "THREADLINE_RUN_STAGE": "stale", "HOME": "/h"}
    # Without --store the command keeps the store this process resolved from its environment.
    inherited = child_environment(
        {"THREADLINE_STORE": "/mine.db"},
        socket_path="/s",
        job=None,
        stage=None,
        reason=None,
        store=None,
    )
    assert inherited["THREADLINE_STORE"] == "/mine.db"
    assert JOB_ENV not in inherited
    assert (SITE_DIR / "sitecustomize.py").is_file()
    assert sorted(p.name for p in SITE_DIR.iterdir() if p.suffix == ".py") == ["sitecustomize.py"]


@pytest.mark.parametrize(
    ("orig", "argv", "worker"),
    [
        (["python", "train.py"], ["train.py"], False),
        (
            [
                "python",
                "-c",
                "from multiprocessing.spawn import spawn_main",
                "--multiprocessing-fork",
            ],
            ["-c"],
            True,
        ),
        (["python", "-m", "loky.backend.popen_loky_posix"], ["-m"], True),
        (
            ["python", "/venv/lib/python3.11/site-packages/mlflow/utils/_capture_modules.py"],
            ["/venv/lib/python3.11/site-packages/mlflow/utils/_capture_modules.py"],
            True,
        ),
        (["python", "-m", "mypipeline"], ["-m"], False),
    ],
)
def test_worker_processes(orig: list[str], argv: list[str], worker: bool) -> None:
    assert is_worker_process(orig, argv) is worker


def test_default_job_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs").mkdir()
    assert default_job(["jobs/train.py"], ["python", "jobs/train.py"]) == "jobs/train.py"
    assert default_job(["-m"], ["python", "-m", "pipelines.train"]) == "pipelines.train"
    assert default_job(["-c"], ["python", "-c", "pass"]) == "python"
    assert default_job(["/elsewhere/x.py"], ["python", "/elsewhere/x.py"]) == "/elsewhere/x.py"


def test_supervisor_writes_batches_and_answers_the_oracle(tmp_path: Path) -> None:
    from threadline.capture.api import RunRecorder

    db = tmp_path / "lineage.db"
    supervisor = Supervisor(str(db))
    supervisor.start()
    try:
        sink = SocketSink(supervisor.path)
        recorder = RunRecorder("producer")
        out = NodeId("dataset", "file://h", "/out.csv", "b3:" + "c" * 64)
        recorder.wrote(out)
        from threadline.model import facets as f
        from threadline.model.events import event_to_dict

        facets = recorder._run_facets()
        facets["threadline_execution"] = f.execution(*recorder.execution_id())
        sink.emit_batch(
            [event_to_dict(recorder._event("COMPLETE", facets, data=True))], durable=True
        )
        oracle = SupervisorOracle(supervisor.path)
        oracle.prefetch([out, NodeId("dataset", "file://h", "/raw.csv")])
        assert oracle.produced(out) is True
        assert oracle.produced(NodeId("dataset", "file://h", "/raw.csv")) is False
        oracle.close()
        sink.close(1.0)
    finally:
        supervisor.close()
    store = open_store(db)
    try:
        assert store.counts()["runs"] == 1
    finally:
        store.close()


def test_run_command_needs_a_command_and_a_known_stage() -> None:
    with pytest.raises(UsageError, match="needs a command"):
        run_command([])
    with pytest.raises(UsageError, match="unknown stage"):
        run_command(["true"], stage="launch")


def test_cli_run_parses_its_options_and_falls_back_for_help(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from threadline.capture.bootstrap import cli_run

    monkeypatch.setenv("THREADLINE_STORE", str(tmp_path / "lineage.db"))
    assert cli_run(["--help"]) is None
    assert cli_run(["--job"]) is None
    assert cli_run([]) is None
    assert cli_run(["--job=x", "--stage", "features", "--", "sh", "-c", "exit 7"]) == 7
    assert cli_run(["--stage", "launch", "true"]) == 2  # a usage error's exit code
