"""The app itself: every command documented, global options, `python -m threadline`."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
import typer.core
import typer.main
from typer.testing import CliRunner

from threadline.cli import COMMAND_MODULES, app

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
