"""The ``threadline`` command line: Typer commands that call the library, Rich output.

Commands live in one module per area, listed in :data:`COMMAND_MODULES`; each exposes
``register(app)``.  **To add commands** (``run``, ``deploy`` and the other capture commands go
in ``cli/capture.py``), write a module with a ``register(app: typer.Typer)`` function that
declares them with ``@app.command()`` and list it there; a module whose optional extras are not
installed is skipped.  Commands compute results through the library and hand them to
:mod:`threadline.cli.render`; nothing else prints.

Global options go before or after the command: ``threadline --store PATH|URL trace ID`` or
``threadline trace ID --store PATH|URL``.  Every
:class:`~threadline.errors.ThreadlineError` becomes one line on stderr (``error: …``) and the
error's ``exit_code`` (2 bad input, 3 not found, 4 store missing or unusable, 5 verification
failed, 6 capture failed, 1 anything else, such as a missing optional library).
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

#: Global options that take a value; they are accepted after the command too.
GLOBAL_OPTIONS = ("--store",)
GLOBAL_EPILOG = (
    "Also takes the global --store PATH|URL, before or after the command (default: "
    "THREADLINE_STORE, store in threadline.toml, or .threadline/lineage.db)."
)


class _Group(TyperGroup):
    """Maps every ThreadlineError, and a missing optional library, to one line on stderr and
    the error's exit code; takes the global options after the command as well as before it."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._hoist_global_options(ctx, args))

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None and not command.epilog and not _own_store(command):
            # The command's --help says that the global option is taken here too.
            command.epilog = GLOBAL_EPILOG
        return command

    def _hoist_global_options(self, ctx: _click.Context, args: list[str]) -> list[str]:
        """``threadline trace X --store Y`` as ``threadline --store Y trace X``, unless the
        command has an option of that name itself (``serve --store``, ``run --store``).
        Nothing after ``--`` moves: it belongs to the command (``run -- python x.py``)."""
        position = _command_position(args)
        if position is None:
            return args
        command = self.get_command(ctx, args[position])
        if command is None:
            return args
        own = _own_options(command)
        hoisted: list[str] = []
        rest: list[str] = []
        index = position + 1
        while index < len(args):
            arg = args[index]
            if arg == "--":
                rest += args[index:]
                break
            name = arg.split("=", 1)[0]
            if name in GLOBAL_OPTIONS and name not in own:
                if "=" in arg:
                    hoisted.append(arg)
                elif index + 1 < len(args):
                    hoisted += args[index : index + 2]
                    index += 1
                else:
                    rest.append(arg)  # click reports the missing value
            else:
                rest.append(arg)
            index += 1
        return [*args[:position], *hoisted, args[position], *rest]

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


def _own_options(command: _click.Command) -> set[str]:
    return {opt for param in command.params for opt in param.opts}


def _own_store(command: _click.Command) -> bool:
    return "--store" in _own_options(command)


def _command_position(args: list[str]) -> int | None:
    """Where the command name is in ``args`` (after any global options and their values)."""
    index = 0
    while index < len(args):
        arg = args[index]
        if not arg.startswith("-"):
            return index
        if arg in GLOBAL_OPTIONS:
            index += 1  # its value
        index += 1
    return None


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
    "threadline.cli.tokens",
    "threadline.cli.export",
    "threadline.cli.health",
    "threadline.cli.gc",
    "threadline.cli.settings",
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
            help="Store path or URL, before or after the command (default: THREADLINE_STORE, "
            "store in threadline.toml, or .threadline/lineage.db).",
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
