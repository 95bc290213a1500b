"""``threadline serve`` (the HTTP server), ``threadline producers`` (what producers sent it)
and ``threadline sync`` (replay the capture spool)."""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Annotated, Any

import typer

from threadline.cli import render, state
from threadline.config import HANDOFF_ENV
from threadline.errors import UsageError


def _refuse_open_network(host: str, *, auth: bool, insecure: bool) -> None:
    """Without auth, listen on loopback only, unless ``--insecure`` says otherwise."""
    if auth or _loopback(host):
        return
    if not insecure:
        raise UsageError(
            f"--host {host} is reachable from other machines and auth is off: use --auth "
            "(threadline token create), or --insecure to serve it open anyway"
        )
    typer.echo(
        f"warning: serving {host} without auth (--insecure): anyone who reaches the port "
        "reads and writes every event",
        err=True,
    )


def _loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``producers`` and ``sync`` to ``app``."""

    @app.command()
    def serve(
        store: Annotated[
            str | None,
            typer.Option(
                "--store",
                metavar="PATH|URL",
                help="Store path or URL (default: the global --store, THREADLINE_STORE, store in "
                "threadline.toml, or .threadline/lineage.db).",
            ),
        ] = None,
        host: Annotated[
            str | None,
            typer.Option(help="Address to listen on (default: the host setting, 127.0.0.1)."),
        ] = None,
        port: Annotated[
            int | None,
            typer.Option(
                min=0, max=65535, help="Port to listen on (default: the port setting, 8765)."
            ),
        ] = None,
        workers: Annotated[
            int | None,
            typer.Option(
                min=1,
                help="Worker processes, each polling the store for the stream (default: the "
                "workers setting, 1).",
            ),
        ] = None,
        max_body: Annotated[
            int | None,
            typer.Option(
                min=1,
                metavar="BYTES",
                help="Largest single-event body (413 above; default: the max_body_bytes "
                "setting, 5 MiB).",
            ),
        ] = None,
        max_batch_body: Annotated[
            int | None,
            typer.Option(
                min=1,
                metavar="BYTES",
                help="Largest batch body (413 above; default: the max_batch_bytes setting, "
                "64 MiB).",
            ),
        ] = None,
        strict: Annotated[
            bool | None,
            typer.Option(
                "--strict/--lenient",
                help="Refuse (400) every event that deviates from the OpenLineage schema, not "
                "only those lineage cannot use (default: the strict_ingest setting, off: "
                "deviations are accepted and noted).",
                show_default=False,
            ),
        ] = None,
        publish: Annotated[
            str | None,
            typer.Option(
                metavar="NATS_URL",
                help="Also publish the change stream to NATS JetStream, message id = the log's "
                "sequence number (default: the publish setting; needs threadline[nats]).",
            ),
        ] = None,
        auth: Annotated[
            bool | None,
            typer.Option(
                "--auth/--no-auth",
                help="Require an API token (threadline token create) or an OIDC bearer JWT on "
                "every request (default: the auth setting, off).",
                show_default=False,
            ),
        ] = None,
        insecure: Annotated[
            bool,
            typer.Option(
                "--insecure",
                help="Listen on a non-loopback --host without auth (anyone who reaches the port "
                "reads and writes everything).",
            ),
        ] = False,
        log_level: Annotated[
            str, typer.Option(help="uvicorn log level: critical, error, warning, info, debug.")
        ] = "info",
    ) -> None:
        """Serve the OpenLineage endpoint (POST /api/v1/lineage), Marquez-compatible reads,
        lineage questions and the change stream; API docs at /docs."""
        import uvicorn

        from threadline.collector import tune_gc_for_serving
        from threadline.server.app import create_app

        settings = state.settings(
            store=store,
            max_body_bytes=max_body,
            max_batch_bytes=max_batch_body,
            host=host,
            port=port,
            workers=workers,
            strict_ingest=strict,
            publish=publish,
            auth=auth,
        )
        _refuse_open_network(settings.host, auth=settings.auth, insecure=insecure)
        if settings.publish:
            from threadline.server.publish import require_client

            require_client()  # one line naming the extra, not a traceback from a worker
        # Open the store here first: an unusable one (not a store, an unknown scheme, a server
        # that is down, a folder it cannot write) is one line and exit 4, not a traceback from
        # inside uvicorn's startup.
        state.open_any(settings.store_url).close()
        if settings.workers == 1:
            api = create_app(settings)
            tune_gc_for_serving()

            class Server(uvicorn.Server):
                def handle_exit(self, sig: int, frame: Any) -> None:
                    # Open change streams would hold a graceful shutdown for its whole timeout.
                    runtime = getattr(api.state, "runtime", None)
                    if runtime is not None:
                        runtime.hub.end_streams()
                    super().handle_exit(sig, frame)

            config = uvicorn.Config(
                api,
                host=settings.host,
                port=settings.port,
                log_level=log_level,
                timeout_graceful_shutdown=3,
            )
            Server(config).run()
            return
        # Worker processes import the app themselves: they inherit the settings through the
        # environment of this process, which only serves from here on.
        os.environ[HANDOFF_ENV] = settings.to_json()
        from uvicorn.supervisors import Multiprocess

        config = uvicorn.Config(
            "threadline.server.app:app_from_environ",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=log_level,
            timeout_graceful_shutdown=3,
        )
        listener = config.bind_socket()
        # uvicorn's shared listening socket is made without a protocol number, so asyncio in
        # the workers never sets TCP_NODELAY on what it accepts, and every response then
        # waited ~40 ms for a delayed ACK (44 ms per request, keep-alive or not). Accepted
        # connections inherit the option from the listener.
        if listener.family in (socket.AF_INET, socket.AF_INET6):
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # This process supervises the workers: SIGTERM or Ctrl-C stops them all, none orphaned.
        Multiprocess(config, sockets=[listener]).run()

    @app.command()
    def producers(
        json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
    ) -> None:
        """Stored events per OpenLineage producer, and the schema deviations accepted on them
        (the notes the server answered with; the same counts as GET
        /api/v1/threadline/producers)."""
        from rich.console import Console
        from rich.table import Table

        from threadline.query.producers import producer_counts

        with state.open_any() as store:
            tally = producer_counts(store)
        if json:
            render.print_json(tally.to_dict())
            return
        table = Table(title="events per producer")
        for column in ("producer", "events", "with notes", "most noted paths"):
            table.add_column(column, overflow="fold")
        for count in tally.counts():
            paths = ", ".join(f"{path} ({n})" for path, n in count.paths.most_common(3))
            table.add_row(
                count.producer or "(none)", str(count.events), str(count.with_notes), paths
            )
        Console().print(table)

    @app.command()
    def sync(
        url: Annotated[
            str | None,
            typer.Option(
                "--url",
                metavar="URL",
                help="threadline server (default: THREADLINE_URL or url in threadline.toml).",
            ),
        ] = None,
        spool: Annotated[
            str | None,
            typer.Option(
                "--spool", metavar="DIR", help="Spool folder (default: .threadline/spool)."
            ),
        ] = None,
        rejected: Annotated[
            bool,
            typer.Option(
                "--rejected",
                help="List the events the server refused (the quarantine) instead of replaying.",
            ),
        ] = False,
        resend: Annotated[
            bool,
            typer.Option(
                "--resend",
                help="With --rejected: send the quarantined events again (after fixing the cause).",
            ),
        ] = False,
    ) -> None:
        """Send the events spooled while the server was unreachable, then remove them.

        Replays are idempotent: the server stores each event once however often it is sent.
        An event the server refuses is quarantined with its reason, and the others go on;
        `sync` exits 1 while anything is left in the spool or in the quarantine.
        """
        from threadline.capture.http_sink import HttpSink, resolve_url

        if resend and not rejected:
            raise UsageError("--resend goes with --rejected (it resends the quarantined events)")
        if rejected and not resend:
            # Listing needs no server: the quarantine is a local folder.
            from threadline.capture.spool import DEFAULT_SPOOL, Spool

            entries = Spool(spool or DEFAULT_SPOOL).quarantine.entries()
            render.print_json({"quarantined": [entry.summary() for entry in entries]})
            if entries:
                raise typer.Exit(1)
            return
        # The same URL capture used, wherever it was set (THREADLINE_URL or threadline.toml).
        sink = HttpSink(resolve_url(url), spool_dir=spool, replay_in_background=False)
        try:
            report = sink.resend_quarantined() if resend else sink.replay()
        finally:
            sink.close(timeout=5.0)
        render.print_json(report.to_dict())
        if report.remaining or report.quarantined:
            raise typer.Exit(1)


__all__ = ["register"]
