"""``threadline health``: gaps, orphans, staleness, drift and broken fingerprints in the graph.

The same checks and JSON as ``GET /api/v1/threadline/health`` (:mod:`threadline.query.health`).
With ``--fail-on warn|error`` it is a CI gate: it exits 1 when any finding is at least that
severe (after printing them all), 0 otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from threadline.cli import state
from threadline.errors import UsageError


def register(app: typer.Typer) -> None:
    """Add ``health`` to ``app``."""

    @app.command()
    def health(
        namespace: Annotated[
            str | None, typer.Option("--namespace", help="Only findings of this namespace.")
        ] = None,
        check: Annotated[
            list[str] | None,
            typer.Option(
                "--check",
                metavar="FAMILY",
                help="Run only this check family (repeatable): gaps, orphans, staleness, "
                "drift, fingerprints.",
            ),
        ] = None,
        fail_on: Annotated[
            str | None,
            typer.Option(
                "--fail-on",
                metavar="warn|error",
                help="Exit 1 when a finding is at least this severe (a CI gate).",
            ),
        ] = None,
        json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Check the recorded lineage's health: gaps, orphans, staleness, drift, broken files."""
        from threadline.query.health import run_health

        if fail_on is not None and fail_on not in ("warn", "error"):
            raise UsageError(f"--fail-on takes warn or error, not {fail_on!r}")
        settings = state.settings()
        with state.open_existing() as store:
            report = run_health(store, settings, namespace=namespace, families=check)
        if json:
            from threadline.cli import render

            render.print_json(report.to_dict())
        else:
            _report(report.to_dict())
        if fail_on is not None and report.fails(fail_on):
            raise typer.Exit(1)


_STYLE = {"error": "bold red", "warn": "yellow", "info": "dim"}


def _report(report: Mapping[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from threadline.cli import render

    console = render._stdout()
    findings = report["findings"]
    if findings:
        table = Table(show_edge=False, pad_edge=False)
        for column in ("severity", "check", "node", "what", "fix"):
            table.add_column(column)
        for finding in findings:
            table.add_row(
                Text(finding["severity"], _STYLE[finding["severity"]]),
                finding["check"],
                finding["node"],
                finding["message"],
                Text(finding["hint"], "dim"),
            )
        render.print_table(console, table)
    counts = report["counts"]
    summary = ", ".join(f"{counts[s]} {s}" for s in ("error", "warn", "info"))
    marker = "✓ healthy" if not findings else "findings"
    console.print(
        Text(f"{marker}: {summary} ({', '.join(report['checks'])}; {report['seconds']:.2f} s)")
    )


__all__ = ["register"]
