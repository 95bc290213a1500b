"""The ``threadline`` command line: Typer commands that call the library, Rich output.

Commands live in one module per area, listed in :data:`COMMAND_MODULES`; each exposes
``register(app)``.  **To add commands** (``run``, ``deploy`` and the other capture commands go
in ``cli/capture.py``), write a module with a ``register(app: typer.Typer)`` function that
declares them with ``@app.command()`` and list it there; a module whose optional extras are not
installed is skipped.  Commands compute results through the library and hand them to
:mod:`threadline.cli.render`; nothing else prints.

Global options come before the command: ``threadline --store PATH|URL trace ID``.  Every
:class:`~threadline.errors.ThreadlineError` becomes one line on stderr (``error: …``) and the
error's ``exit_code`` (2 bad input, 3 not found, 4 store unusable, 5 verification failed).
"""

from __future__ import annotations

import importlib
from typing import Annotated, NoReturn

import typer
from typer import _click  # typer vendors click: its Context type lives here
from typer.core import TyperGroup

from threadline._version import __version__
from threadline.cli import state
from threadline.errors import MissingDependency, ThreadlineError


class _Group(TyperGroup):
    """Maps every ThreadlineError, and a missing optional library, to one line on stderr and
    the error's exit code."""

    def invoke(self, ctx: _click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ThreadlineError as exc:
            _fail(exc)
        except ModuleNotFoundError as exc:
            missing = MissingDependency.from_import(exc)
            if missing is None:
                raise
            _fail(missing)


def _fail(exc: ThreadlineError) -> NoReturn:
    from threadline.cli import render

    render.error(exc.message)
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

#: The registration point: each module's ``register(app)`` adds its commands, in this order.
#: A module that is missing (or whose optional extras are not installed) is skipped.
COMMAND_MODULES = (
    "threadline.cli.query",
    "threadline.cli.search",
    "threadline.cli.catalog",
    "threadline.cli.store",
    "threadline.cli.keys",
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
            metavar="PATH|URL",
            help="Store path or URL (default: THREADLINE_STORE, store in threadline.toml, or "
            ".threadline/lineage.db).",
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
    # A closed pipe (`threadline trace … | head`) is handled by click: quiet exit 1.
    app()
