"""Questions: trace, impact, diff, show, log."""

from __future__ import annotations

from typing import Annotated

import typer

from threadline.cli import render, state

Depth = Annotated[int | None, typer.Option("--depth", min=1, help="Follow at most N edges.")]
AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Answer as the graph was at TIME (ISO 8601).")
]
Limit = Annotated[
    int,
    typer.Option("--limit", min=1, help="Return at most N nodes (the answer says if it was cut)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a tree.")]
Ref = Annotated[
    str,
    typer.Argument(
        help="A path (its current content) or an id such as dataset:file://host/x.csv@b3:…"
    ),
]


def register(app: typer.Typer) -> None:
    @app.command()
    def trace(
        ref: Ref, depth: Depth = None, as_of: AsOf = None, limit: Limit = 1000, json: Json = False
    ) -> None:
        """Everything upstream of ID: the runs, code, people and raw data that produced it."""
        from threadline.query import trace as run_trace

        with state.open_existing() as store:
            graph = run_trace(store, ref, depth=depth, as_of=as_of, limit=limit).to_dict()
        render.print_json(graph) if json else render.lineage_tree(graph)

    @app.command()
    def impact(
        ref: Ref, depth: Depth = None, as_of: AsOf = None, limit: Limit = 1000, json: Json = False
    ) -> None:
        """Everything downstream of ID: feature sets, models, deployments, predictions."""
        from threadline.query import impact as run_impact

        with state.open_existing() as store:
            graph = run_impact(store, ref, depth=depth, as_of=as_of, limit=limit).to_dict()
        render.print_json(graph) if json else render.lineage_tree(graph)

    @app.command()
    def diff(a: Ref, b: Ref, json: Json = False) -> None:
        """What differs between two model versions: inputs, parameters, code, upstream, metrics."""
        from threadline.query import diff as run_diff

        with state.open_existing() as store:
            result = run_diff(store, a, b).to_dict()
        render.print_json(result) if json else render.diff_table(result)

    @app.command()
    def show(ref: Ref, as_of: AsOf = None, json: Json = False) -> None:
        """Everything recorded about one version: facets, runs, neighbours, other versions."""
        from threadline.query import show as run_show

        with state.open_existing() as store:
            entry = run_show(store, ref, as_of=as_of)
        render.print_json(entry) if json else render.show_table(entry)

    @app.command()
    def log(
        limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs.")] = 20,
        job: Annotated[str | None, typer.Option("--job", help="Only runs of this job.")] = None,
        json: Json = False,
    ) -> None:
        """The most recent runs, newest first."""
        from threadline.query import log as run_log

        with state.open_existing() as store:
            rows = run_log(store, limit=limit, job=job)
        render.print_json(rows) if json else render.log_table(rows)
