"""The ``threadline`` command line: Typer commands that call the library, Rich output.

Commands live in one module per area (``query``, ``store``, ``capture``, ``serve``,
``export``); each exposes ``register(app)``.  Errors print one line and exit with the error's
``exit_code``.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer
from typer import _click  # typer vendors click: its Context type lives here
from typer.core import TyperGroup

from threadline._version import __version__
from threadline.cli import state
from threadline.errors import ThreadlineError


class _Group(TyperGroup):
    """Maps every ThreadlineError to one line on stderr and the error's exit code."""

    def invoke(self, ctx: _click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ThreadlineError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="threadline",
    help="Automatic, verifiable ML lineage: trace any prediction to its raw data, code and people.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

#: Command modules; optional ones are skipped when their extras are not installed.
COMMAND_MODULES = (
    "threadline.cli.query",
    "threadline.cli.store",
    "threadline.cli.capture",
    "threadline.cli.serve",
    "threadline.cli.export",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"threadline {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Store path or URL (default: THREADLINE_STORE or .threadline/lineage.db).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Automatic, verifiable ML lineage."""
    state.STORE = store


for _module in COMMAND_MODULES:
    try:
        importlib.import_module(_module).register(app)
    except ModuleNotFoundError as exc:
        if not exc.name or not exc.name.startswith("threadline.cli"):
            raise


def main() -> None:
    """Console entry point."""
    app()
