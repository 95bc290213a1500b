"""``threadline search``: find datasets, features, models and jobs by name, owner, label, stage.

The same filters and JSON as ``GET /api/v1/threadline/search`` (:mod:`threadline.query.search`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from threadline.cli import state


def register(app: typer.Typer) -> None:
    """Add ``search`` to ``app``."""

    @app.command()
    def search(
        text: Annotated[
            str | None,
            typer.Argument(
                metavar="[TEXT]",
                help="Part of the name or namespace (any case).",
                show_default=False,
            ),
        ] = None,
        kind: Annotated[
            str | None,
            typer.Option(
                "--kind",
                help="dataset, features, model, evaluation, deployment, predictions or job.",
            ),
        ] = None,
        namespace: Annotated[
            str | None, typer.Option("--namespace", help="Only this namespace (exact).")
        ] = None,
        owner: Annotated[
            str | None, typer.Option("--owner", help="Owned by this owner, e.g. team:ml.")
        ] = None,
        label: Annotated[
            str | None,
            typer.Option("--label", help="Carrying this classification label, e.g. pii."),
        ] = None,
        stage: Annotated[
            str | None, typer.Option("--stage", help="Jobs recorded in this stage, e.g. training.")
        ] = None,
        as_of: Annotated[
            str | None,
            typer.Option(
                "--as-of", metavar="TIME", help="Only what existed at TIME, as it stood then."
            ),
        ] = None,
        limit: Annotated[
            int, typer.Option("--limit", min=1, max=10_000, metavar="N", help="At most N hits.")
        ] = 50,
        json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Find what was recorded: by name, kind, namespace, owner, label or stage."""
        from threadline.cli import render
        from threadline.query.search import search as run_search

        with state.open_existing() as store:
            result = run_search(
                store,
                text,
                kind=kind,
                namespace=namespace,
                owner=owner,
                label=label,
                stage=stage,
                as_of=as_of,
                limit=limit,
            )
        if json:
            render.print_json(result.to_dict())
        else:
            _table(result.to_dict())


def _table(result: Mapping[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from threadline.cli import render

    console = render._stdout()
    hits = result["results"]
    if not hits:
        console.print(Text("nothing matches", "dim"))
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("kind", "name", "version", "owners", "labels", "stage", "first seen"):
        table.add_column(column)
    for node in hits:
        table.add_row(
            node["kind"],
            render.display_name(node),
            render.short(node.get("version")),
            ", ".join(node.get("owners", ())),
            Text(", ".join(node.get("labels", ())), "red"),
            node.get("stage") or "",
            str(node.get("first_seen") or "")[:19],
        )
    render.print_table(console, table)
    if result["truncated"]:
        console.print(Text(f"showing the first {len(hits)}; raise --limit to see more", "dim"))


__all__ = ["register"]
