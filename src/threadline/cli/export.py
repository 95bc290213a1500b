"""``threadline export`` (OpenLineage, PROV-JSON, PROV-O, dot) and ``threadline import``."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from threadline.cli import output, render, state
from threadline.errors import UsageError


class Format(StrEnum):
    openlineage = "openlineage"
    prov_json = "prov-json"
    prov_o = "prov-o"
    dot = "dot"
    svg = "svg"
    png = "png"


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``import`` to ``app``."""

    @app.command()
    def export(
        format: Annotated[
            Format, typer.Option("--format", "-f", help="Output format.")
        ] = Format.openlineage,
        namespace: Annotated[
            str | None, typer.Option(help="Only this namespace (a job's or a dataset's).")
        ] = None,
        id: Annotated[
            str | None,
            typer.Option("--id", metavar="ID", help="Only the upstream lineage of this version."),
        ] = None,
        since: Annotated[
            str | None, typer.Option(metavar="TIME", help="Only from this time on (ISO 8601).")
        ] = None,
        until: Annotated[
            str | None, typer.Option(metavar="TIME", help="Only up to this time (ISO 8601).")
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", "-o", metavar="FILE", help="Write here, not to stdout."),
        ] = None,
    ) -> None:
        """Export lineage: the log as OpenLineage NDJSON (re-importable), or the graph as W3C
        PROV (PROV-JSON, PROV-O Turtle), Graphviz dot, or drawn as svg or png (Graphviz)."""
        if out is not None:
            output.check_target(out)  # before the export, however long that would take
        with state.open_existing() as store:
            if format is Format.openlineage:
                from threadline.export.openlineage import export_events

                with output.output(out) as stream:
                    export_events(
                        store, stream, namespace=namespace, since=since, until=until, ref=id
                    )
                return
            from threadline.export.graph import collect

            graph = collect(store, ref=id, namespace=namespace, since=since, until=until)
        if format in (Format.dot, Format.svg, Format.png):
            from threadline.export.dot import to_dot

            text = to_dot(graph)
            if format is not Format.dot:
                from threadline.export.picture import render as draw

                if format is Format.png and out is None and sys.stdout.isatty():
                    raise UsageError("a png is not for a terminal: give --out FILE")
                output.write(out, draw(text, format.value))
                return
        elif format is Format.prov_json:
            from threadline.export.prov import prov_json

            text = prov_json(graph) + "\n"
        else:
            from threadline.export.prov import prov_o

            text = prov_o(graph)
        output.write(out, text.encode())

    @app.command("import")
    def import_(
        file: Annotated[
            Path,
            typer.Argument(help="OpenLineage NDJSON (or a JSON array) to import; - for stdin."),
        ],
        batch: Annotated[int, typer.Option(min=1, help="Events per transaction.")] = 1000,
        validate: Annotated[
            bool,
            typer.Option(
                help="Review each event first: refuse what lineage cannot use (with "
                "--strict or the strict_ingest setting, every OpenLineage schema deviation)."
            ),
        ] = True,
        strict: Annotated[
            bool | None,
            typer.Option(
                "--strict/--lenient",
                help="Refuse every event that deviates from the OpenLineage schema (default: "
                "the strict_ingest setting).",
                show_default=False,
            ),
        ] = None,
        json: Annotated[
            bool, typer.Option("--json", help="Print the counts as JSON, not a summary line.")
        ] = False,
    ) -> None:
        """Import OpenLineage events into the store (events already stored are skipped)."""
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        from threadline.export.openlineage import import_events

        check: Any = None
        if validate:
            from threadline.spec.ingest import default_policy

            # The server's policy: deviations lineage survives are stored, the rest refused.
            check = default_policy(strict=state.settings(strict_ingest=strict).strict_ingest).admit
        source: IO[bytes]
        if str(file) == "-":
            source, total = sys.stdin.buffer, None
        else:
            try:
                source, total = file.open("rb"), file.stat().st_size
            except OSError as exc:
                raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
        try:
            with (
                state.open_any() as store,
                Progress(
                    TextColumn("importing {task.fields[events]:,} events"),
                    BarColumn(),
                    DownloadColumn(),
                    TimeElapsedColumn(),
                    transient=True,
                    console=Console(stderr=True),
                ) as progress,
            ):
                task = progress.add_task("import", total=total, events=0)

                def advance(events: int) -> None:
                    completed = source.tell() if total is not None else None
                    progress.update(task, completed=completed, events=events)

                started = time.perf_counter()
                result = import_events(store, source, batch=batch, check=check, progress=advance)
                seconds = time.perf_counter() - started
        finally:
            if source is not sys.stdin.buffer:
                source.close()
        if json:
            render.print_json(result.to_dict())
        else:
            render.import_report(result.to_dict(), source=str(file), seconds=seconds)


__all__ = ["register"]
