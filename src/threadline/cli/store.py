"""Store administration: verify."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from threadline.cli import render, state


def register(app: typer.Typer) -> None:
    @app.command()
    def verify(json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
        """Prove nothing in the log was edited, deleted or reordered (exit 5 if it was)."""
        from threadline.errors import IntegrityError
        from threadline.integrity.chain import verify_chain

        with state.open_existing() as store:
            verifier = getattr(store, "verify", None)
            if verifier is not None:
                raw: Any = verifier()
            else:
                raw = verify_chain(store.iter_chain())
        report = _as_dict(raw)
        render.print_json(report) if json else render.verify_report(report)
        if not report["ok"]:
            raise typer.Exit(IntegrityError.exit_code)


def _as_dict(report: Any) -> dict[str, Any]:
    if isinstance(report, dict):
        return report
    to_dict = getattr(report, "to_dict", None)
    if callable(to_dict):
        result: dict[str, Any] = to_dict()
        return result
    first = report.first_break
    return {
        "ok": first is None,
        "records": report.records,
        "head": report.head.hex(),
        "first_bad": first.seq if first else None,
        "reason": first.reason if first else None,
    }
