"""The app itself: every command documented, global options, `python -m threadline`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import typer
import typer.core
import typer.main
from tests.support.graphs import pipeline_store
from typer.testing import CliRunner

from threadline.cli import COMMAND_MODULES, app
from threadline.errors import StoreUnavailable, UsageError
from threadline.store import open_store

QUERY_AND_STORE_COMMANDS = {"trace", "impact", "diff", "show", "log", "verify"}


def command_names() -> list[str]:
    names = []
    for command in app.registered_commands:
        assert command.callback is not None
        names.append(command.name or command.callback.__name__.replace("_", "-"))
    return names


def test_the_commands_are_registered() -> None:
    assert set(command_names()) >= QUERY_AND_STORE_COMMANDS
    assert "threadline.cli.capture" in COMMAND_MODULES  # where run / deploy register


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help_text(name: str) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.commands[name]
    assert (command.help or "").strip(), f"{name} has no docstring"
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert command.help.strip().split()[0] in result.stdout  # type: ignore[union-attr]
    for param in command.params:
        # Every argument and option says what it is for.
        assert getattr(param, "help", None), f"{name}: {param.name} has no help"


def test_top_level_help_lists_the_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in QUERY_AND_STORE_COMMANDS:
        assert name in result.stdout
    assert "--store" in result.stdout


def test_no_arguments_prints_help() -> None:
    result = CliRunner().invoke(app, [])
    assert "Usage" in result.output


def test_python_dash_m_threadline() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "threadline", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "trace" in done.stdout
    assert "verify" in done.stdout


# A sitecustomize that makes the modules named in BLOCKED_MODULES unimportable, as in an
# environment where the extra that installs them was never installed.
BLOCKER = """
import os, sys

_blocked = set(filter(None, os.environ.get("BLOCKED_MODULES", "").split(",")))


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _Blocker())
"""


def run_without(
    module: str, args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m threadline ARGS`` in a process where ``module`` cannot be imported."""
    (cwd / "blocker").mkdir(exist_ok=True)
    (cwd / "blocker" / "sitecustomize.py").write_text(BLOCKER)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "threadline", *args],
        cwd=cwd,
        env={**clean, **(env or {}), "PYTHONPATH": str(cwd / "blocker"), "BLOCKED_MODULES": module},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("module", "args", "extra"),
    [
        ("uvicorn", ["serve", "--port", "0"], "server"),
        ("prov", ["export", "--format", "prov-json"], "server"),
        ("jsonschema", ["import", "events.ndjson"], "server"),
        ("psycopg", ["--store", "postgresql+psycopg://u@127.0.0.1:1/db", "verify"], "postgres"),
    ],
)
def test_a_missing_optional_library_is_one_line_naming_its_extra(
    tmp_path: Path, module: str, args: list[str], extra: str
) -> None:
    (tmp_path / "events.ndjson").write_text("")
    threadline_store(tmp_path)
    done = run_without(module, args, tmp_path)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"pip install 'threadline[{extra}]'" in lines[0]


def threadline_store(folder: Path) -> None:
    """An empty store where the commands look by default (they refuse to create one)."""
    with open_store(folder / ".threadline" / "lineage.db"):
        pass


def test_the_blocker_blocks(tmp_path: Path) -> None:
    done = run_without("typer", ["--help"], tmp_path)
    assert "No module named 'typer'" in done.stderr


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda url: ["--store", url, "log", "--json"], id="before"),
        pytest.param(lambda url: ["log", "--store", url, "--json"], id="after"),
        pytest.param(lambda url: ["log", "--json", f"--store={url}"], id="after-equals"),
    ],
)
def test_the_global_store_option_goes_before_or_after_the_command(
    tmp_path: Path, where: Callable[[str], list[str]]
) -> None:
    with pipeline_store("sqlite", tmp_path) as store:
        url = store.url
    result = CliRunner().invoke(app, where(url))
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["runs"]


def test_a_command_s_own_store_option_and_what_follows_a_double_dash_stay_put(
    tmp_path: Path,
) -> None:
    with pipeline_store("sqlite", tmp_path) as store:
        url = store.url
    # migrate has its own --store: it is that option which takes the value.
    result = CliRunner().invoke(app, ["migrate", "--dry-run", "--store", url])
    assert result.exit_code == 0, result.output
    # After --, an argument is a value even when it reads like the option.
    result = CliRunner().invoke(app, ["search", "--json", "--store", url, "--", "--store"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["query"] == {"text": "--store"}


@pytest.mark.parametrize(
    ("env", "options", "named"),
    [
        pytest.param({"THREADLINE_URL": "garbage"}, [], "THREADLINE_URL='garbage'", id="env"),
        pytest.param({}, ["--url", "garbage"], "--url 'garbage'", id="option"),
    ],
)
def test_a_bad_server_url_refuses_before_the_command_runs(
    tmp_path: Path, env: dict[str, str], options: list[str], named: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    script = "open('ran', 'w').close()"
    done = subprocess.run(
        [sys.executable, "-m", "threadline", "run", *options, "--", sys.executable, "-c", script],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == UsageError.exit_code == 2
    assert done.stderr.startswith(f"error: {named}")
    assert "is not an http(s) URL" in done.stderr
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["trace", "x.csv"],
        ["log"],
        ["verify"],
        ["search", "x"],
        ["ls", "namespaces"],
        ["export"],
        ["migrate"],
    ],
)
def test_a_missing_store_is_exit_4_as_documented(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "nowhere" / "lineage.db"
    result = CliRunner().invoke(app, [*args, "--store", str(missing)])
    assert result.exit_code == StoreUnavailable.exit_code == 4, result.output
    assert result.stderr.startswith(f"error: no store at {missing}")
    assert result.stderr.count("\n") == 1
    assert not missing.parent.exists()


def one_line_error(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``python -m threadline ARGS``; the exit code and the one stderr line it printed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "threadline", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: "), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    ("store", "says"),
    [
        pytest.param("notes.txt", "is not an SQLite database", id="not-a-store"),
        pytest.param("foo://x/y", "no store backend for scheme 'foo'", id="bad-scheme"),
        # Nothing listens on port 1: PostgreSQL is down.
        pytest.param(
            "postgresql+psycopg://postgres@127.0.0.1:1/db", "Connection refused", id="pg-down"
        ),
        # /proc takes no new files, even from root: a folder the store cannot be written in.
        pytest.param("/proc/lineage.db", "unable to open database file", id="read-only"),
    ],
)
def test_serve_on_an_unusable_store_is_one_line_and_exit_4(
    tmp_path: Path, store: str, says: str
) -> None:
    (tmp_path / "notes.txt").write_text("not sqlite at all, just some text")
    code, err = one_line_error(["serve", "--store", store, "--port", "0"], tmp_path)
    assert code == StoreUnavailable.exit_code == 4
    assert says in err


def test_import_of_a_missing_file_and_export_into_a_missing_folder(tmp_path: Path) -> None:
    threadline_store(tmp_path)
    code, err = one_line_error(["import", "missing.ndjson"], tmp_path)
    assert code == UsageError.exit_code
    assert err == "error: cannot read missing.ndjson: No such file or directory\n"
    target = tmp_path / "no" / "such" / "folder" / "out.ndjson"
    for fmt in ("openlineage", "dot"):
        code, err = one_line_error(["export", "--format", fmt, "-o", str(target)], tmp_path)
        assert code == UsageError.exit_code
        assert err == f"error: cannot write {target}: there is no folder {target.parent}\n"
    assert not (tmp_path / "no").exists()


ROW_OF_PARQUET = """
from threadline.fingerprint import fingerprint_file
from threadline.rowfiles import read_row
import sys
path = sys.argv[1]
print(read_row("file://", path, fingerprint_file(path), 0)[1])
"""


def test_a_row_trace_without_pyarrow_names_the_extra(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "rows.parquet")
    (tmp_path / "blocker").mkdir()
    (tmp_path / "blocker" / "sitecustomize.py").write_text(BLOCKER)
    done = subprocess.run(
        [sys.executable, "-c", ROW_OF_PARQUET, str(tmp_path / "rows.parquet")],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "blocker"), "BLOCKED_MODULES": "pyarrow"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("pip install 'threadline[pandas]'")


@pytest.mark.parametrize("name", command_names())
def test_every_command_s_help_says_where_store_goes(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--store" in result.stdout
