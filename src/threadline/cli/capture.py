"""``threadline run`` and ``threadline deploy``.

``threadline run`` is on the critical path of every captured program: the console entry point
hands ``threadline run …`` to :func:`threadline.capture.launch.cli_run` before importing this
package (Typer and Rich cost about 60 ms); ``--help`` and anything that parser does not know
fall back to the Typer command here, which behaves the same.  Both read the options from one
table, :data:`threadline.capture.launch.RUN_OPTIONS`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated

import typer

from threadline.capture import launch
from threadline.cli import state
from threadline.errors import NotFound, ThreadlineError, UsageError


def _run_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` (``ctx`` and ``**options``) one keyword option per row of
    :data:`~threadline.capture.launch.RUN_OPTIONS`: Typer reads the options from the
    signature, so this is how the launcher's table becomes the command's ``--help``."""
    parameters = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    ]
    for name, metavar, help_text in launch.RUN_OPTIONS:
        option = typer.Option(name, metavar=metavar, help=help_text)
        parameters.append(
            inspect.Parameter(
                name[2:],
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[str | None, option],
            )
        )
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return command


def _recorded_model(ref: str) -> str:
    """The recorded model version ``ref`` names (its printable id), or ``ref`` itself when the
    store knows nothing of it (then only a saved model file is accepted, by the format).

    Raises :class:`~threadline.errors.UsageError` when ``ref`` is recorded as something else:
    deploying ``raw.csv`` must not relabel a dataset as a model."""
    from threadline.query.resolve import resolve_ref

    store = state.open_any()
    try:
        vertex = resolve_ref(store, ref)
    except NotFound:
        return ref
    finally:
        store.close()
    if vertex.kind != "model":
        raise UsageError(
            f"{ref} is recorded with kind {vertex.kind}, not model: "
            "threadline deploy takes a model version or a saved model file"
        )
    return str(vertex)


def register(app: typer.Typer) -> None:
    """Add the capture commands (``run``, ``deploy``) to ``app``."""

    @app.command(
        "run",
        options_metavar="[OPTIONS] [--] COMMAND [ARGS]...",
        context_settings={
            "allow_extra_args": True,
            "ignore_unknown_options": True,
            "allow_interspersed_args": False,
        },
    )
    @_run_options
    def run(ctx: typer.Context, **options: str | None) -> None:
        """Run a command with automatic lineage capture: threadline run -- python train.py.

        Every Python process of the command is captured without code changes: reads, writes,
        fits, transforms, predictions and metrics become runs of the store.
        """
        from threadline.capture.http_sink import resolve_url

        command = list(ctx.args)
        if command and command[0] == "--":
            command = command[1:]
        url = options.get("url")
        try:
            code = launch.run(
                command,
                job=options.get("job"),
                stage=options.get("stage"),
                reason=options.get("reason"),
                store=options.get("store") or state.STORE,
                url=resolve_url(url) if url is not None else None,
                namespace=options.get("namespace"),
            )
        except ThreadlineError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from exc
        raise typer.Exit(code)

    @app.command("deploy")
    def deploy(
        model: Annotated[str, typer.Argument(help="Model file or node id to deploy.")],
        endpoint: Annotated[str, typer.Option("--endpoint", help="Endpoint name.")],
        env: Annotated[
            str, typer.Option("--env", help="Environment (production, staging, …).")
        ] = "production",
        reason: Annotated[
            str | None, typer.Option("--reason", help="Why this deployment happens.")
        ] = None,
    ) -> None:
        """Record that MODEL now serves at --endpoint in --env; prints the deployment id.

        MODEL is a recorded model version (its id, or the path of its file) or a saved model
        file (pickle, joblib, skops, an MLflow model folder); anything else is refused.
        """
        from threadline.capture.api import deploy as record_deploy
        from threadline.capture.emitter import Emitter, StoreSink, set_emitter, shutdown

        store = state.STORE
        try:
            target = model if state.settings().url else _recorded_model(model)
            if store is not None:
                from threadline.store import open_store

                set_emitter(Emitter(StoreSink(open_store(store))))
            node = record_deploy(target, endpoint=endpoint, environment=env, reason=reason)
        except ThreadlineError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from exc
        finally:
            shutdown()
        typer.echo(str(node))


__all__ = ["register"]
