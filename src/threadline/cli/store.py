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
                help="Also prove the log still holds what this signed checkpoint (from "
                "threadline checkpoint) vouched for; needs --key.",
            ),
        ] = None,
        key: Annotated[
            Path | None,
            typer.Option(
                "--key",
                metavar="PUBKEY",
                help="The public key (PATH.pub from threadline keygen) the checkpoint must be "
                "signed with.",
            ),
        ] = None,
        json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Prove nothing in the log was edited, deleted or reordered (exit 5 naming the first
        bad record if something was)."""
        signed = _signed_checkpoint(checkpoint, key)
        with state.open_existing() as store:
            verifier = getattr(store, "verify", None)
            if callable(verifier):
                raw: Any = verifier()
            else:
                from threadline.integrity.chain import verify_chain

                raw = verify_chain(store.iter_chain())
            if signed is not None:
                from threadline.integrity.chain import verify_log

                against = verify_log(store.iter_chain(), {signed.size: signed.root})
        report = report_dict(raw)
        if signed is not None:
            report["signed_checkpoint"] = {
                "origin": signed.origin,
                "tree_size": signed.size,
                "timestamp_ms": signed.timestamp_ms,
                "ok": against.ok,
                "reason": against.first_break.reason if against.first_break else None,
            }
        if json:
            render.print_json(report)
        else:
            render.verify_report(report)
            if signed is not None:
                render.signed_checkpoint_report(report["signed_checkpoint"])
        if not report["ok"]:
            raise IntegrityError(
                f"the log fails verification at record {report['first_bad']}: {report['reason']}"
            )
        if signed is not None and not against.ok:
            raise IntegrityError(
                f"the log does not hold what the signed checkpoint of {signed.origin} at size "
                f"{signed.size} vouched for: {report['signed_checkpoint']['reason']}"
            )

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


def _signed_checkpoint(note: Path | None, key: Path | None) -> Checkpoint | None:
    """The checkpoint in ``note`` once its signature by ``key`` verified; None without one."""
    if note is None and key is None:
        return None
    if note is None or key is None:
        raise UsageError("--checkpoint FILE and --key PUBKEY go together")
    # Here, not at the top: signing loads cryptography, which no other command needs.
    from threadline.integrity.checkpoint import open_checkpoint
    from threadline.integrity.signing import VerifyingKey

    try:
        text = note.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read checkpoint file {note}: {exc.strerror}") from None
    return open_checkpoint(text, VerifyingKey.load(key))


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
