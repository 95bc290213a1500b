"""``threadline settings``: every setting, its value here and where that value comes from.

Settings resolve in one order (an explicit option, then ``THREADLINE_*``, then
``threadline.toml`` or ``[tool.threadline]``, then the default); this shows the outcome for the
current folder and environment, so "which store will this write to, and why" has an answer.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from threadline.cli import render, state
from threadline.config import SETTINGS, origins


def _shown(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def register(app: typer.Typer) -> None:
    """Add ``settings`` to ``app``."""

    @app.command("settings")
    def settings_command(
        json: Annotated[bool, typer.Option("--json", help="Print the settings as JSON.")] = False,
    ) -> None:
        """Every setting: its value here, where it comes from (THREADLINE_* variable, settings
        file or default) and what it does."""
        resolved = state.settings()
        where = origins()
        rows = [
            {
                "name": setting.name,
                "value": _shown(getattr(resolved, setting.name)),
                "from": "--store"
                if setting.name == "store" and state.STORE
                else where[setting.name],
                "environment": setting.env,
                "help": setting.help,
            }
            for setting in SETTINGS
        ]
        if json:
            render.print_json({"store_url": resolved.store_url, "settings": rows})
            return
        console = render._stdout()
        table = Table(title=f"store: {resolved.store_url}")
        for column in ("setting", "value", "from", "what it does"):
            table.add_column(column, overflow="fold")
        for row in rows:
            value = "" if row["value"] is None else str(row["value"])
            table.add_row(row["name"], Text(value), row["from"], row["help"])
        render.print_table(console, table)


__all__ = ["register"]
