"""``threadline token create | list | revoke``: the API tokens ``threadline serve --auth``
accepts.

A token grants one role (viewer, producer, steward, admin) on one namespace (``*``: all), with
classification clearances (``--clearance pii``).  It is printed once: the store keeps only its
SHA-256, in an event of the verifiable log (:mod:`threadline.server.auth.tokens`), so every
token change is chained and checkpointed with the lineage.  A running server picks up a new or
revoked token within a second.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from threadline.cli import render, state

Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def register(app: typer.Typer) -> None:
    """Add ``token`` and its subcommands to ``app``."""
    tokens = typer.Typer(
        name="token",
        help="API tokens for threadline serve --auth (create, list, revoke).",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    app.add_typer(tokens)

    @tokens.command("create")
    def create(
        name: Annotated[str, typer.Option("--name", help="Who or what uses it (e.g. ci).")],
        role: Annotated[
            str,
            typer.Option(
                "--role",
                help="viewer (read), producer (post events), steward (tags, labels, policies), "
                "admin (tokens, roles); each holds the rights of those before it.",
            ),
        ],
        namespace: Annotated[
            str, typer.Option("--namespace", help="The namespace it may act on (* for all).")
        ],
        clearance: Annotated[
            list[str] | None,
            typer.Option(
                "--clearance",
                help="A classification label whose datasets it may see unredacted (pii; "
                "repeatable).",
            ),
        ] = None,
        json: Json = False,
    ) -> None:
        """Create a token and print it once (only its hash is stored)."""
        from threadline.server.auth.grants import Role
        from threadline.server.auth.tokens import create_event

        token, event = create_event(
            name, Role.parse(role), namespace, [c.strip() for c in clearance or []], _who()
        )
        with state.open_any() as store:
            store.append_batch([event], durable=True)
        if json:
            render.print_json({"token": token})
            return
        typer.echo(token)
        typer.echo(
            err=True,
            message=f"token {name!r}: {role} on {namespace}; shown once, keep it now "
            "(send it as Authorization: Bearer TOKEN)",
        )

    @tokens.command("list")
    def list_(json: Json = False) -> None:
        """The tokens the store knows, revoked ones included (never their secrets)."""
        from threadline.server.auth.tokens import list_tokens

        with state.open_existing() as store:
            records = [record.to_dict() for record in list_tokens(store)]
        if json:
            render.print_json({"tokens": records})
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="API tokens")
        for column in ("id", "name", "role", "namespace", "clearances", "created", "revoked"):
            table.add_column(column, overflow="fold")
        for record in records:
            table.add_row(
                record["id"],
                record["name"],
                record["role"],
                record["namespace"],
                ", ".join(record["clearances"]) or "—",
                record["created"],
                record["revoked"] or "—",
            )
        render.print_table(Console(), table)

    @tokens.command("revoke")
    def revoke(
        token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (token list).")],
        json: Json = False,
    ) -> None:
        """Revoke a token: a running server refuses it within a second."""
        from threadline.server.auth.tokens import find_token, revoke_event

        with state.open_existing() as store:
            record = find_token(store, token_id)
            if record.revoked is None:
                store.append_batch([revoke_event(record.id, _who())], durable=True)
        if json:
            render.print_json({"revoked": record.id, "already": record.revoked is not None})
            return
        typer.echo(err=True, message=f"token {record.id} ({record.name}) revoked")


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


__all__ = ["register"]
