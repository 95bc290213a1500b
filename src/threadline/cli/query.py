"""Questions: ``trace``, ``impact``, ``diff``, ``show``, ``log``.

Each command opens the existing store (never creating one), calls :mod:`threadline.query`, and
hands the result's ``to_dict()`` to :mod:`threadline.cli.render` or prints it as JSON.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from threadline.cli import output, render, state
from threadline.errors import UsageError

#: What every ID argument accepts (threadline.query.reference lists the forms).
ID_HELP = (
    "A path (its current content is looked up) or any id threadline prints: "
    "dataset:file://host/data/raw.csv@b3:5f1c… (no @version: the newest), a short "
    "NAMESPACE/NAME@VERSION, a Marquez node id such as dataset:postgres://db:5432:public.orders, "
    "a tree's NAME VERSION, a version alone, or a run id.  Versions may be shortened to any "
    "unique prefix."
)
Ref = Annotated[str, typer.Argument(metavar="ID", help=ID_HELP, show_default=False)]
TraceRef = Annotated[
    str,
    typer.Argument(
        metavar="ID[#row=N]",
        help=ID_HELP + "  Append #row=N to trace one data row, e.g. predictions.csv#row=17: "
        "rows count from 0 and the header line is not a row.",
        show_default=False,
    ),
]
Depth = Annotated[
    int | None,
    typer.Option(
        "--depth", min=0, metavar="N", help="Follow at most N edges (one pipeline step is two)."
    ),
]
AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="TIME",
        help="Answer as the graph stood at TIME (ISO 8601, e.g. 2026-11-25T10:00Z; naive is UTC).",
    ),
]
Limit = Annotated[
    int,
    typer.Option(
        "--limit",
        min=0,
        metavar="N",
        help="Return at most N nodes; the answer says when it was cut (0: no cap).",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


class Picture(StrEnum):
    tree = "tree"
    dot = "dot"
    svg = "svg"
    png = "png"


PictureFormat = Annotated[
    Picture,
    typer.Option(
        "--format",
        "-f",
        help="tree (the terminal), or the graph as Graphviz dot text, or drawn as svg or png "
        "(svg and png need Graphviz's `dot`).",
    ),
]
PictureOut = Annotated[
    Path | None,
    typer.Option("--out", "-o", metavar="FILE", help="Write the dot, svg or png here."),
]


def _check_output(json: bool, fmt: Picture, out: Path | None) -> None:
    """Refuse conflicting output options before the query runs."""
    if json and fmt is not Picture.tree:
        raise UsageError(f"--json and --format {fmt.value} both choose the output; give one")
    if out is not None and fmt is Picture.tree:
        raise UsageError("--out is for --format dot, svg or png")
    if out is not None:
        output.check_target(out)  # before the query, however long that would take


def _picture(graph: Any, fmt: Picture, out: Path | None) -> None:
    """Write ``graph`` as dot text or a Graphviz drawing to ``out`` (or stdout)."""
    from threadline.export.dot import to_dot

    text = to_dot(graph)
    if fmt is Picture.dot:
        data = text.encode()
    else:
        from threadline.export.picture import render as draw

        data = draw(text, fmt.value)
    if out is None and fmt is Picture.png and sys.stdout.isatty():
        raise UsageError("a png is not for a terminal: give --out FILE or redirect stdout")
    output.write(out, data)


def register(app: typer.Typer) -> None:
    """Add the query commands to ``app``."""

    @app.command()
    def trace(
        ref: TraceRef,
        depth: Depth = None,
        as_of: AsOf = None,
        limit: Limit = 1000,
        json: Json = False,
        format: PictureFormat = Picture.tree,
        out: PictureOut = None,
    ) -> None:
        """Everything upstream of ID: the runs, code, people and raw data that produced it.

        With ID#row=N, one data row (counted from 0, header excluded): the input row it was
        computed from (with its values when the file is here and unchanged), the model and
        deployment, the feature sets, training data and raw files.
        """
        from threadline.query import RowTrace
        from threadline.query import trace as run_trace

        with state.open_existing() as store:
            _check_output(json, format, out)
            graph = run_trace(store, ref, depth=depth, as_of=as_of, limit=limit or None)
        if format is not Picture.tree:
            if isinstance(graph, RowTrace):
                raise UsageError(
                    f"a row trace has no graph to draw as {format.value}; trace the file "
                    "without #row=N, or use --json"
                )
            _picture(graph, format, out)
        elif json:
            render.print_json(graph.to_dict())
        elif isinstance(graph, RowTrace):
            render.row_tree(graph.to_dict())
        else:
            render.lineage_tree(graph.to_dict(), upstream=True)

    @app.command()
    def impact(
        ref: Ref,
        depth: Depth = None,
        as_of: AsOf = None,
        limit: Limit = 1000,
        json: Json = False,
        format: PictureFormat = Picture.tree,
        out: PictureOut = None,
    ) -> None:
        """Everything downstream of ID: feature sets, models, deployments, prediction batches."""
        from threadline.query import impact as run_impact

        with state.open_existing() as store:
            _check_output(json, format, out)
            graph = run_impact(store, ref, depth=depth, as_of=as_of, limit=limit or None)
        if format is not Picture.tree:
            _picture(graph, format, out)
        elif json:
            render.print_json(graph.to_dict())
        else:
            render.lineage_tree(graph.to_dict(), upstream=False)

    @app.command()
    def diff(
        a: Annotated[str, typer.Argument(metavar="A", help="First version: " + ID_HELP)],
        b: Annotated[str, typer.Argument(metavar="B", help="Second version (as A).")],
        json: Json = False,
    ) -> None:
        """What differs between two model versions: inputs, parameters, code, upstream, metrics."""
        from threadline.query import diff as run_diff

        with state.open_existing() as store:
            result = run_diff(store, a, b)
        if json:
            render.print_json(result.to_dict())
        else:
            render.diff_table(result.to_dict())

    @app.command()
    def show(ref: Ref, as_of: AsOf = None, json: Json = False) -> None:
        """Everything recorded about one version: facets, runs, neighbours, other versions."""
        from threadline.query import show as run_show

        with state.open_existing() as store:
            detail = run_show(store, ref, as_of=as_of)
        if json:
            render.print_json(detail.to_dict())
        else:
            render.show_detail(detail.to_dict())

    @app.command()
    def log(
        limit: Annotated[
            int, typer.Option("--limit", min=1, metavar="N", help="Show the N most recent runs.")
        ] = 20,
        job: Annotated[
            str | None,
            typer.Option("--job", help="Only runs of this job (NAME or NAMESPACE/NAME)."),
        ] = None,
        since: Annotated[
            str | None,
            typer.Option("--since", metavar="TIME", help="Only runs active at or after TIME."),
        ] = None,
        json: Json = False,
    ) -> None:
        """The most recent runs, newest first: job, state, who, which code, why."""
        from threadline.query import log as run_log

        with state.open_existing() as store:
            result = run_log(store, limit=limit, job=job, since=since)
        if json:
            render.print_json(result.to_dict())
        else:
            render.log_table(result.to_dict())


__all__ = ["register"]
