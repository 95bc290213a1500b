"""Store administration: ``verify``, ``migrate``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from threadline.cli import render, state
from threadline.errors import IntegrityError, UsageError

if TYPE_CHECKING:
    from threadline.integrity.checkpoint import Checkpoint


def register(app: typer.Typer) -> None:
    """Add the store commands to ``app``."""

    @app.command()
    def verify(
        checkpoint: Annotated[
            Path | None,
            typer.Option(
                "--checkpoint",
                metavar="FILE",
                help="Also prove, by an RFC 9162 consistency proof, that the log still holds "
                "what this signed checkpoint (from threadline checkpoint, kept outside the "
                "store) vouched for, and that the store's row for it is intact.",
            ),
        ] = None,
        key: Annotated[
            Path | None,
            typer.Option(
                "--key",
                metavar="PUBKEY",
                help="The public key (PATH.pub from threadline keygen) the checkpoint must be "
                "signed with (default: the public half of the checkpoint_key setting).",
            ),
        ] = None,
        origin: Annotated[
            str | None,
            typer.Option(
                "--origin",
                metavar="NAME",
                help="Require the checkpoint to be of this log (refuses another log's).",
            ),
        ] = None,
        deep: Annotated[
            bool,
            typer.Option(
                "--deep",
                help="Also re-project the log into a scratch graph and name every row of the "
                "graph tables that differs, and list recorded files whose bytes changed.",
            ),
        ] = False,
        json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Prove nothing in the log was edited, deleted or reordered (exit 5 naming the first
        bad record if something was)."""
        trusted = _trusted_checkpoint(checkpoint, key, origin)
        with state.open_existing() as store:
            report = report_dict(store.verify())
            from threadline.store.admin import lifecycle_events

            report["lifecycle"] = store.read(lifecycle_events)
            if trusted is not None:
                from threadline.store.admin import audit_checkpoint

                log_size, findings = audit_checkpoint(store, trusted.size, trusted.root)
                report["signed_checkpoint"] = {
                    "origin": trusted.origin,
                    "tree_size": trusted.size,
                    "log_size": log_size,
                    "timestamp_ms": trusted.timestamp_ms,
                    "ok": not findings,
                    "reason": findings[0] if findings else None,
                    "findings": findings,
                }
            if deep:
                from threadline.query.reproject import deep_check

                report["deep"] = deep_check(store).to_dict()
        if json:
            render.print_json(report)
        else:
            render.verify_report(report)
            if trusted is not None:
                render.signed_checkpoint_report(report["signed_checkpoint"])
            if deep:
                render.deep_report(report["deep"])
        if not report["ok"]:
            raise IntegrityError(
                f"the log fails verification at record {report['first_bad']}: {report['reason']}"
            )
        if trusted is not None and not report["signed_checkpoint"]["ok"]:
            raise IntegrityError(
                f"the log does not hold what the signed checkpoint of {trusted.origin} at size "
                f"{trusted.size} vouched for: " + "; ".join(report["signed_checkpoint"]["findings"])
            )
        if deep and not report["deep"]["ok"]:
            items = report["deep"]["differences"] or report["deep"]["changed_files"]
            first = items[0]["message"] if items else report["deep"]["archive_problems"][0]
            raise IntegrityError(f"verify --deep: {report['deep']['summary']}; first: {first}")

    @app.command()
    def migrate(
        store: Annotated[
            str | None,
            typer.Option(
                "--store",
                metavar="PATH|URL",
                help="Store path or URL (default: the global --store, THREADLINE_STORE or "
                ".threadline/lineage.db).",
            ),
        ] = None,
        dry_run: Annotated[
            bool,
            typer.Option("--dry-run", help="List the pending migrations; change nothing."),
        ] = False,
        json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Upgrade the store's schema in place to this threadline's revision.

        Each migration runs in its own transaction.  A store written by a newer threadline is
        refused (exit 4) and left untouched.  Opening a store also upgrades it; this command
        does it explicitly and says what it did.
        """
        from threadline.store.migrations import upgrade

        report = upgrade(state.store_url(store), dry_run=dry_run).to_dict()
        if json:
            render.print_json(report)
        else:
            render.migrate_report(report)


def _trusted_checkpoint(
    note: Path | None, key: Path | None, origin: str | None
) -> Checkpoint | None:
    """The checkpoint in ``note`` once its signature by the public key verified (``key``, or
    the public half of the ``checkpoint_key`` setting); None without a note."""
    if note is None:
        if key is not None:
            raise UsageError("--key PUBKEY checks a signed checkpoint: pass --checkpoint FILE too")
        return None
    # Here, not at the top: signing loads cryptography, which no other command needs.
    from threadline.integrity.checkpoint import open_checkpoint
    from threadline.integrity.signing import public_key_for

    try:
        text = note.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read checkpoint file {note}: {exc.strerror}") from None
    configured = state.settings().checkpoint_key
    if key is None and configured is None:
        raise UsageError(
            "--checkpoint FILE and --key PUBKEY go together (or set checkpoint_key): an "
            "unsigned checkpoint proves nothing the store's operator could not forge"
        )
    return open_checkpoint(text, public_key_for(key, configured), origin=origin)


def report_dict(report: Any) -> dict[str, Any]:
    """The JSON form of a verification report, whichever verifier produced it.

    Keys: ``ok``, ``records`` (intact records), ``head`` (hex chain head), ``first_bad`` (seq of
    the first bad record or ``None``), ``reason``; plus whatever else the report's own
    ``to_dict()`` adds (e.g. checkpoints).
    """
    body: dict[str, Any] = {}
    to_dict = getattr(report, "to_dict", None)
    if isinstance(report, dict):
        body = dict(report)
    elif callable(to_dict):
        body = dict(to_dict())
    first = getattr(report, "first_break", None)
    head = getattr(report, "head", body.get("head"))
    if "ok" not in body:
        body["ok"] = bool(getattr(report, "ok", first is None))
    body.setdefault("records", getattr(report, "records", None))
    body["head"] = head.hex() if isinstance(head, bytes | bytearray) else head
    body.setdefault("first_bad", first.seq if first is not None else None)
    body.setdefault("reason", first.reason if first is not None else None)
    return body


__all__ = ["register", "report_dict"]
