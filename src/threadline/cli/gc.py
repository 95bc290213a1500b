"""``threadline gc``: what the lifecycle rules select, and what each rule would do.

The rules are ``[[tool.threadline.lifecycle]]`` and ``[[tool.threadline.legal_hold]]`` in the
settings file (:mod:`threadline.lifecycle.rules`).  ``--dry-run`` prints the plan: per rule the
versions and nodes it selects and how many a legal hold keeps from deletion; ``--json`` adds
every selected version.  Applying the plan (archive, erasure) is not built yet: without
``--dry-run`` the command says so and changes nothing.
"""

from __future__ import annotations

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
        json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
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
        if not dry_run:
            raise UsageError(
                "applying lifecycle rules (archive, delete) is not available yet; "
                "run threadline gc --dry-run to see what they select"
            )
        with state.open_existing() as store:
            plan = make_plan(store, policy, time.time_ns() // 1000)
        if json:
            render.print_json(plan.to_dict())
            return
        _print(plan.to_dict())


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
