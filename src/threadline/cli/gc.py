"""``threadline gc``: apply the lifecycle rules, or (``--dry-run``) show what they select.

The rules are ``[[tool.threadline.lifecycle]]`` and ``[[tool.threadline.legal_hold]]`` in the
settings file (:mod:`threadline.lifecycle.rules`).  ``--dry-run`` prints the plan: per rule the
versions and nodes it selects and how many a legal hold keeps from deletion; ``--json`` adds
every selected version.  Without it the command applies the rules
(:mod:`threadline.lifecycle.apply`): it erases what ``delete`` rules select from the log under
erasure events, moves the records ``archive`` rules select into archive files, rebuilds the
graph and compacts the database, with a progress bar; it asks first, or takes ``--yes``.  A
run killed half-way is finished by running it again.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from threadline.cli import render, state
from threadline.errors import UsageError


def register(app: typer.Typer) -> None:
    """Add ``gc`` to ``app``."""

    @app.command()
    def gc(
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Print what the rules select; change nothing.")
        ] = False,
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="Apply without asking (erasure is final).")
        ] = False,
        json: Annotated[
            bool, typer.Option("--json", help="Print the plan or outcome as JSON.")
        ] = False,
    ) -> None:
        """Apply the lifecycle rules (retain, archive, delete; legal holds) of the settings."""
        from threadline.lifecycle.plan import make_plan
        from threadline.lifecycle.rules import policy_from, settings_file

        settings = state.settings()
        policy = policy_from(settings.file, settings_file(settings.source_dir))
        if not policy.rules:
            raise UsageError(
                "no lifecycle rules: add [[tool.threadline.lifecycle]] tables to the settings "
                "file (match, older_than, action, reason)"
            )
        now_us = time.time_ns() // 1000
        with state.open_existing() as store:
            plan = make_plan(store, policy, now_us)
            if dry_run:
                if json:
                    render.print_json(plan.to_dict())
                else:
                    _print(plan.to_dict())
                return
            deleting = sum(1 for c in plan.candidates if c.action == "delete" and not c.held_by)
            if deleting and not yes:
                if not sys.stdin.isatty():
                    raise UsageError(
                        f"threadline gc would erase {deleting} dataset versions for good; "
                        "pass --yes to apply, or --dry-run to see what the rules select"
                    )
                _print(plan.to_dict())
                if not typer.confirm(f"Erase {deleting} dataset versions for good?"):
                    raise typer.Exit(1)
            report = _apply(store, policy, now_us)
        if json:
            render.print_json(report.to_dict())
            return
        _summary(report.to_dict())


def _apply(store: Any, policy: Any, now_us: int) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from threadline.lifecycle.apply import apply_policy

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=Console(stderr=True),
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                what, _, rule = phase.partition(":")
                label = {
                    "rebuild": "rebuilding the graph",
                    "erase": "erasing",
                    "archive": "archiving",
                }[what]
                if rule:
                    label += f" ({rule})"
                tasks[phase] = bar.add_task(label, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        return apply_policy(store, policy, now_us, progress=progress)


def _summary(report: dict[str, Any]) -> None:
    console = render._stdout()
    if report["resumed"]:
        console.print("finished the erasure an earlier run left half-done", highlight=False)
    for outcome in report["erased"]:
        console.print(
            f"rule {outcome['rule']}: erased {outcome['versions']} versions of "
            f"{outcome['nodes']} datasets from {outcome['records_rewritten']} records "
            f"(erasure events {', '.join(map(str, outcome['erasure_events'])) or 'none'})",
            highlight=False,
        )
    if not report["erased"] and not report["records_archived"]:
        console.print("nothing to erase or archive", highlight=False)
    if report["held_by_legal_hold"]:
        console.print(
            f"{report['held_by_legal_hold']} versions kept by legal holds", highlight=False
        )
    for outcome in report["archived"]:
        console.print(
            f"rule {outcome['rule']}: archived {outcome['records_archived']} records naming "
            f"{outcome['versions']} versions into {len(outcome['files'])} file(s)",
            highlight=False,
        )
    if report["graph_rebuilt_from_events"] is not None:
        console.print(
            f"graph rebuilt from {report['graph_rebuilt_from_events']} events; "
            "run threadline verify to check the log",
            highlight=False,
        )


def _print(plan: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="lifecycle plan (dry run: nothing changed)", show_edge=False)
    for column in ("rule", "action", "match", "older than", "versions", "nodes", "held"):
        table.add_column(column)
    for rule in plan["rules"]:
        match = ", ".join(f"{k}={v}" for k, v in rule["match"].items())
        table.add_row(
            rule["name"],
            rule["action"],
            match,
            f"{rule['older_than_seconds'] / 86_400:g} d",
            str(rule["versions"]),
            str(rule["nodes"]),
            str(rule["held"]),
        )
    console = render._stdout()
    render.print_table(console, table)
    console.print(f"{plan['examined_versions']} dataset versions examined", highlight=False)
