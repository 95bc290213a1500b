"""``threadline ls``: the catalog listings, the command-line twin of the Marquez API's lists.

``threadline ls namespaces|datasets|jobs|runs [--namespace NS] [--job NAME]`` prints a table;
``--json`` prints the rows of :mod:`threadline.query.catalog` (``{"total": n, "items": […]}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from threadline.cli import render, state
from threadline.errors import UsageError


class Listing(StrEnum):
    namespaces = "namespaces"
    datasets = "datasets"
    jobs = "jobs"
    runs = "runs"


def register(app: typer.Typer) -> None:
    """Add ``ls`` to ``app``."""

    @app.command("ls")
    def ls(
        what: Annotated[
            Listing,
            typer.Argument(metavar="WHAT", help="What to list.", show_default=False),
        ],
        namespace: Annotated[
            str | None,
            typer.Option("--namespace", metavar="NS", help="Only this namespace (exact)."),
        ] = None,
        job: Annotated[
            str | None,
            typer.Option(
                "--job", metavar="NAME", help="runs: only this job's (needs --namespace)."
            ),
        ] = None,
        limit: Annotated[
            int, typer.Option("--limit", min=1, max=10_000, metavar="N", help="At most N rows.")
        ] = 100,
        offset: Annotated[
            int, typer.Option("--offset", min=0, metavar="N", help="Skip the first N rows.")
        ] = 0,
        json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    ) -> None:
        """List the namespaces, datasets, jobs or runs recorded (by name; runs newest first)."""
        from threadline.query import catalog

        if job is not None and what is not Listing.runs:
            raise UsageError("--job only narrows `threadline ls runs`")
        if what is Listing.namespaces and namespace is not None:
            raise UsageError("--namespace narrows datasets, jobs and runs, not namespaces")
        page: catalog.Page[Any]
        with state.open_existing() as store:
            if what is Listing.namespaces:
                page = catalog.namespaces(store, limit=limit, offset=offset)
            elif what is Listing.datasets:
                page = catalog.datasets(store, namespace, limit=limit, offset=offset)
            elif what is Listing.jobs:
                page = catalog.jobs(store, namespace, limit=limit, offset=offset)
            else:
                page = catalog.runs(store, namespace, job, limit=limit, offset=offset)
        body = page.to_dict()
        if json:
            render.print_json(body)
        else:
            _table(what, body["items"], body["total"], offset, namespace)


# --- tables -----------------------------------------------------------------------------------


def _when(text: str | None) -> str:
    return str(text or "")[:19].replace("T", " ")


def _version(entry: Mapping[str, Any] | None) -> str:
    return render.short(entry["version"]) if entry else ""


def _table(
    what: Listing,
    items: Sequence[Mapping[str, Any]],
    total: int,
    offset: int,
    namespace: str | None,
) -> None:
    console = render._stdout()
    if not items:
        where = f" in namespace {namespace}" if namespace is not None else ""
        empty = "nothing past --offset" if offset and total else f"no {what.value} recorded{where}"
        console.print(Text(empty, "dim"))
        return
    table = Table(show_edge=False, pad_edge=False)
    if what is Listing.namespaces:
        for column in ("namespace", "created", "updated"):
            table.add_column(column)
        for item in items:
            table.add_row(Text(item["name"]), _when(item["created"]), _when(item["updated"]))
    elif what is Listing.datasets:
        for column in ("namespace", "name", "kind", "version", "updated"):
            table.add_column(column)
        for item in items:
            table.add_row(
                Text(item["namespace"]),
                Text(render.display_name(item)),
                item["kind"],
                _version(item["current_version"]),
                _when(item["updated"]),
            )
    elif what is Listing.jobs:
        for column in ("namespace", "name", "execution", "last run", "state", "inputs", "outputs"):
            table.add_column(column)
        for item in items:
            latest = item["latest_runs"][0] if item["latest_runs"] else None
            table.add_row(
                Text(item["namespace"]),
                Text(item["name"]),
                _version(item["current_version"]),
                _when(latest["started"] or latest["updated"]) if latest else "",
                _state(latest["state"]) if latest else Text(""),
                str(len(item["inputs"])),
                str(len(item["outputs"])),
            )
    else:
        for column in ("run", "namespace", "job", "state", "started", "ended"):
            table.add_column(column)
        for item in items:
            table.add_row(
                item["run_id"],
                Text(item["job"]["namespace"]),
                Text(item["job"]["name"]),
                _state(item["state"]),
                _when(item["started"]),
                _when(item["ended"]),
            )
    render.print_table(console, table)
    shown = offset + len(items)
    if offset or shown < total:
        console.print(
            Text(f"rows {offset + 1} to {shown} of {total} (--limit and --offset page)", "dim")
        )


def _state(state_: str) -> Text:
    return Text(state_, "red" if state_ in ("FAIL", "ABORT") else "")


__all__ = ["register"]
