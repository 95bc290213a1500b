"""``threadline run`` and ``threadline deploy``.

``threadline run`` is on the critical path of every captured program: the console entry point
should hand ``threadline run …`` to :func:`threadline.capture.bootstrap.cli_run` before
importing this package (Typer and Rich cost about 60 ms); ``--help`` and anything that parser
does not know fall back to the Typer command here, which behaves the same.
"""

from __future__ import annotations

from typing import Annotated

import typer


def _global_store() -> str | None:
    try:
        from threadline.cli import state
    except ImportError:
        return None
    store: str | None = getattr(state, "STORE", None)
    return store


def register(app: typer.Typer) -> None:
    """Add the capture commands (``run``, ``deploy``) to ``app``."""

    @app.command(
        "run",
        context_settings={
            "allow_extra_args": True,
            "ignore_unknown_options": True,
            "allow_interspersed_args": False,
        },
    )
    def run(
        ctx: typer.Context,
        job: Annotated[
            str | None, typer.Option("--job", help="Job name (default: the script's path).")
        ] = None,
        stage: Annotated[
            str | None,
            typer.Option("--stage", help="Stage of the run, overriding the inferred one."),
        ] = None,
        reason: Annotated[
            str | None, typer.Option("--reason", help="Why this run happens (recorded).")
        ] = None,
        url: Annotated[
            str | None,
            typer.Option(
                "--url",
                metavar="URL",
                help="Send lineage to this threadline server instead of the store "
                "(default: THREADLINE_URL or url in threadline.toml).",
            ),
        ] = None,
    ) -> None:
        """Run a command with automatic lineage capture: threadline run -- python train.py.

        Every Python process of the command is captured without code changes: reads, writes,
        fits, transforms, predictions and metrics become runs of the store.
        """
        from threadline.capture.bootstrap import run_command
        from threadline.capture.http_sink import resolve_url
        from threadline.errors import ThreadlineError

        command = list(ctx.args)
        if command and command[0] == "--":
            command = command[1:]
        try:
            code = run_command(
                command,
                job=job,
                stage=stage,
                reason=reason,
                store=_global_store(),
                url=resolve_url(url) if url is not None else None,
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
        """Record that MODEL now serves at --endpoint in --env; prints the deployment id."""
        from threadline.capture.api import deploy as record_deploy
        from threadline.capture.emitter import Emitter, StoreSink, set_emitter, shutdown
        from threadline.errors import ThreadlineError

        store = _global_store()
        try:
            if store is not None:
                from threadline.store import open_store

                set_emitter(Emitter(StoreSink(open_store(store))))
            node = record_deploy(model, endpoint=endpoint, environment=env, reason=reason)
        except ThreadlineError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from exc
        finally:
            shutdown()
        typer.echo(str(node))


__all__ = ["register"]
