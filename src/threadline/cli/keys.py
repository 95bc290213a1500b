"""Signing keys and signed checkpoints: ``keygen``, ``checkpoint``.

``threadline keygen --out PATH`` writes an Ed25519 key pair (PATH, private, mode 0600;
PATH.pub, public).  ``threadline checkpoint --key PATH`` verifies the log, records a Merkle
checkpoint of it in the store, and prints it signed as a C2SP signed note
(:mod:`threadline.integrity.checkpoint`) that anyone holding the public key can check.
"""

from __future__ import annotations

import base64
import socket
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from threadline.cli import render, state
from threadline.errors import NotFound, UsageError
from threadline.store.base import IntegrityAdmin, Store

if TYPE_CHECKING:
    from threadline.store.base import StoredCheckpoint

# threadline.integrity.signing and sqlalchemy are imported inside the commands: every CLI
# invocation imports this module, and only these commands need cryptography (~30 ms) and
# SQLAlchemy (~170 ms).

#: Characters an origin keeps as they are; anything else (spaces, "+", …) is %-escaped.
_ORIGIN_SAFE = "/:@._-~"

Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def register(app: typer.Typer) -> None:
    """Add the key and checkpoint commands to ``app``."""

    @app.command()
    def keygen(
        out: Annotated[
            Path,
            typer.Option(
                "--out",
                "-o",
                metavar="PATH",
                help="Write the private key here (mode 0600) and the public key to PATH.pub.",
            ),
        ],
        force: Annotated[
            bool, typer.Option("--force", help="Replace key files that already exist.")
        ] = False,
        json: Json = False,
    ) -> None:
        """Create an Ed25519 key pair for signing checkpoints (threadline checkpoint --key)."""
        from threadline.integrity.signing import SigningKey

        public_path = out.with_name(out.name + ".pub")
        if not force:
            for path in (out, public_path):
                if path.exists():
                    raise UsageError(
                        f"{path} already exists; pass --force to replace it (checkpoints "
                        "signed with the old key then no longer verify with the new one)",
                        detail={"path": str(path)},
                    )
        key = SigningKey.generate()
        key.save(out, overwrite=force)
        key.verifying_key.save(public_path, overwrite=force)
        report = {
            "signing_key": str(out),
            "public_key": str(public_path),
            "public_key_raw": base64.b64encode(key.verifying_key.raw).decode("ascii"),
        }
        if json:
            render.print_json(report)
        else:
            render.keygen_report(report)

    @app.command()
    def checkpoint(
        key: Annotated[
            Path,
            typer.Option(
                "--key",
                metavar="PATH",
                help="The private key to sign with (from threadline keygen).",
            ),
        ],
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", "-o", metavar="FILE", help="Write the signed note here, not to stdout."
            ),
        ] = None,
        origin: Annotated[
            str | None,
            typer.Option(
                "--origin",
                metavar="NAME",
                help="The log's name in the checkpoint and key name of the signature, a "
                "schema-less URL such as example.com/lineage (default: host and path of the "
                "store).",
            ),
        ] = None,
        store: Annotated[
            str | None,
            typer.Option(
                "--store",
                metavar="PATH|URL",
                help="Store path or URL (default: the global --store, THREADLINE_STORE or "
                ".threadline/lineage.db).",
            ),
        ] = None,
        json: Json = False,
    ) -> None:
        """Verify the log, record a Merkle checkpoint of it and sign it (a C2SP signed note).

        Fails with exit 5, storing and signing nothing, if the log does not verify.
        """
        from threadline.integrity.checkpoint import Checkpoint, sign_checkpoint
        from threadline.integrity.signing import SigningKey

        signing_key = SigningKey.load(key)  # before the log is read: a bad key fails fast
        with state.open_existing(store) as opened:
            taken = _checkpoint(opened)
            name = origin if origin is not None else default_origin(opened.url)
        signed = sign_checkpoint(
            Checkpoint(name, taken.tree_size, taken.root, taken.created_us // 1000), signing_key
        )
        note = signed.to_text()
        if out is not None:
            try:
                out.write_text(note, encoding="utf-8")
            except OSError as exc:
                raise UsageError(
                    f"cannot write checkpoint file {out}: {exc.strerror}",
                    detail={"path": str(out)},
                ) from None
        public = signing_key.verifying_key
        report: dict[str, Any] = {
            "origin": name,
            "tree_size": taken.tree_size,
            "root": base64.b64encode(taken.root).decode("ascii"),
            "timestamp_ms": taken.created_us // 1000,
            "key_id": public.key_id(name).hex(),
            "vkey": public.vkey(name),
            "note": note,
            "out": str(out) if out is not None else None,
        }
        if json:
            render.print_json(report)
        else:
            render.checkpoint_report(report)


def _checkpoint(store: Store) -> StoredCheckpoint:
    if not isinstance(store, IntegrityAdmin):
        raise UsageError(
            f"store {store.safe_url} cannot take checkpoints (its backend has no admin)"
        )
    taken = store.checkpoint()
    if taken is None:
        raise NotFound(f"store {store.safe_url} holds no records yet: nothing to checkpoint")
    return taken


def default_origin(url: str) -> str:
    """A name for the log at ``url`` when none is given: ``host/path/of/lineage.db`` for an
    SQLite file, ``host:port/database`` for a server; never a user name or password."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        raw = socket.gethostname() + "/" + str(Path(parsed.database or "").resolve()).lstrip("/")
    else:
        port = f":{parsed.port}" if parsed.port else ""
        raw = f"{parsed.host or 'localhost'}{port}/{parsed.database or ''}"
    return urllib.parse.quote(raw, safe=_ORIGIN_SAFE) or "threadline"


__all__ = ["default_origin", "register"]
