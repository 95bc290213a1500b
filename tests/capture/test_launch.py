"""The launcher of ``threadline run``: options, the private socket folder, nothing half-started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from threadline.capture import launch
from threadline.errors import UsageError


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["python", "a.py"], ({}, ["python", "a.py"])),
        (["--", "python", "--job", "x"], ({}, ["python", "--job", "x"])),
        (
            ["--job", "j", "--stage=training", "--", "python", "t.py", "--store", "s"],
            ({"job": "j", "stage": "training"}, ["python", "t.py", "--store", "s"]),
        ),
        (["--store", "x.db", "make", "all"], ({"store": "x.db"}, ["make", "all"])),
        (["--namespace=churn", "python"], ({"namespace": "churn"}, ["python"])),
        (["--help"], None),
        (["--verbose", "python"], None),
        (["--job"], None),
        (["--job", "j"], None),
        (["--"], None),
        ([], None),
    ],
)
def test_parse_run_args(argv: list[str], expected: tuple[dict[str, str], list[str]] | None) -> None:
    assert launch.parse_run_args(argv) == expected


def test_a_command_that_cannot_start_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with pytest.raises(UsageError, match="cannot run 'no-such-program-tl'"):
        launch.run(["no-such-program-tl"], store=str(tmp_path / "s.db"))
    with pytest.raises(UsageError, match="unknown stage 'launch'"):
        launch.run(["true"], stage="launch")
    with pytest.raises(UsageError, match="namespace = 'acme/churn': a namespace is one word"):
        launch.run(["true"], namespace="acme/churn")
    assert list(tmp_path.iterdir()) == []


def test_the_command_is_started_before_the_supervisor_is_imported(tmp_path: Path) -> None:
    # The launcher's own imports are all it needs to start the command (not even the enums
    # of signal and socket: ~5 ms).
    probe = (
        "import sys; from threadline.capture import launch;"
        "heavy = [m for m in ('threadline.capture.supervisor', 'sqlalchemy', 'typing',"
        " 'signal', 'socket', 'enum')"
        " if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.stdout.strip() == "[]"


def test_child_environment_is_the_child_only(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"PYTHONPATH": "/x", "THREADLINE_RUN_STAGE": "stale", "HOME": "/h"}
    env = launch.child_environment(
        base, socket_path="/s", job="j", stage=None, reason=None, store="/db"
    )
    assert env["PYTHONPATH"] == f"{Path(launch.SITE_DIR)}{os.pathsep}/x"
    assert env[launch.SOCKET_ENV] == "/s"
    assert env[launch.JOB_ENV] == "j"
    assert "THREADLINE_RUN_STAGE" not in env
    assert env["THREADLINE_STORE"] == "/db"
    assert base == {"PYTHONPATH": "/x", "THREADLINE_RUN_STAGE": "stale", "HOME": "/h"}
    # Without --store the command keeps the store this process resolved from its environment.
    inherited = launch.child_environment(
        {"THREADLINE_STORE": "/mine.db"},
        socket_path="/s",
        job=None,
        stage=None,
        reason=None,
        store=None,
    )
    assert inherited["THREADLINE_STORE"] == "/mine.db"
    assert launch.JOB_ENV not in inherited
    assert launch.NAMESPACE_SETTING_ENV not in inherited
    named = launch.child_environment(
        {}, socket_path="/s", job=None, stage=None, reason=None, store=None, namespace="churn"
    )
    assert named[launch.NAMESPACE_SETTING_ENV] == "churn"
    assert (Path(launch.SITE_DIR) / "sitecustomize.py").is_file()
    assert sorted(p.name for p in Path(launch.SITE_DIR).iterdir() if p.suffix == ".py") == [
        "sitecustomize.py"
    ]


def test_run_command_needs_a_command_and_a_known_stage() -> None:
    with pytest.raises(UsageError, match="needs a command"):
        launch.run([])
    with pytest.raises(UsageError, match="unknown stage"):
        launch.run(["true"], stage="launch")


def test_cli_run_parses_its_options_and_falls_back_for_help(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADLINE_STORE", str(tmp_path / "lineage.db"))
    assert launch.cli_run(["--help"]) is None
    assert launch.cli_run(["--job"]) is None
    assert launch.cli_run([]) is None
    assert launch.cli_run(["--job=x", "--stage", "features", "--", "sh", "-c", "exit 7"]) == 7
    assert launch.cli_run(["--stage", "launch", "true"]) == 2  # a usage error's exit code


def test_the_launcher_resolves_settings_first_whenever_a_file_could_name_a_server(
    tmp_path: Path,
) -> None:
    """``may_name_a_server`` lets the launcher start the command before importing config; it
    must say yes wherever config would read a ``url`` from a file."""
    from threadline.capture.launch import may_name_a_server
    from threadline.config import resolve

    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    assert not may_name_a_server(str(deep))
    assert resolve(environ={}, cwd=deep).url is None
    (tmp_path / "a" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert not may_name_a_server(str(deep))  # a pyproject.toml without our table
    (tmp_path / "a" / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.threadline]\nurl = "http://127.0.0.1:1"\n'
    )
    assert resolve(environ={}, cwd=deep).url == "http://127.0.0.1:1"
    assert may_name_a_server(str(deep))
    (tmp_path / "a" / "b" / "threadline.toml").write_text('url = "http://127.0.0.1:2"\n')
    assert resolve(environ={}, cwd=deep).url == "http://127.0.0.1:2"
    assert may_name_a_server(str(deep))


def test_a_bad_server_url_in_a_settings_file_refuses_before_the_command_runs(
    tmp_path: Path,
) -> None:
    (tmp_path / "threadline.toml").write_text('url = "garbage"\n')
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "threadline", "run", "--", sys.executable, "-c", "open('ran', 'w')"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "is not an http(s) URL" in done.stderr
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["threadline", "run", "--", "true"], ["--", "true"]),
        (["threadline", "--store", "x.db", "run", "true"], ["--store", "x.db", "true"]),
        (
            ["threadline", "--store=x.db", "run", "--store", "y.db", "true"],
            ["--store", "x.db", "--store", "y.db", "true"],
        ),
        (["threadline", "--store", "x.db", "trace", "run"], None),
        (["threadline", "--store", "run"], None),
        (["threadline", "trace"], None),
        (["threadline"], None),
    ],
)
def test_the_global_store_option_keeps_run_on_the_fast_path(
    argv: list[str], expected: list[str] | None
) -> None:
    from threadline.__main__ import run_arguments

    assert run_arguments(argv) == expected


def test_the_runs_own_store_option_overrides_the_global_one() -> None:
    # As in the full command line: `threadline --store x.db run --store y.db CMD` uses y.db.
    from threadline.__main__ import run_arguments

    arguments = run_arguments(["threadline", "--store=x.db", "run", "--store", "y.db", "true"])
    assert arguments is not None
    assert launch.parse_run_args(arguments) == ({"store": "y.db"}, ["true"])


def test_threadline_store_run_starts_without_the_cli(tmp_path: Path) -> None:
    # `threadline --store S run -- CMD` used to load Typer, Rich and every command before
    # starting CMD (a quarter of a second here); it now takes the launcher's path.
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "threadline",
            "--store",
            "l.db",
            "run",
            "--",
            "true",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "threadline.capture.launch" in imported
    assert not imported & {"typer", "rich", "threadline.cli"}
    # Nor does the supervisor, in every run, pay for dataclasses and the inspect module it
    # imports (~10 ms of CPU): its records are frozen records (threadline.frozen); nor for
    # typing (~3 ms), whose types its modules name for type checkers only.
    assert "threadline.capture.supervisor" in imported
    assert "threadline.capture.destination" in imported
    assert not imported & {"dataclasses", "inspect", "typing"}
