"""Signing keys, signed checkpoints and proofs: ``keygen``, ``checkpoint``, ``prove``,
``verify-proof``.

``threadline keygen --out PATH`` writes an Ed25519 key pair (PATH, private, mode 0600;
PATH.pub, public).  ``threadline checkpoint --key PATH`` verifies the log, records a Merkle
checkpoint of it in the store, and prints it signed as a C2SP signed note
(:mod:`threadline.integrity.checkpoint`) that anyone holding the public key can check.
``threadline prove ID`` prints an RFC 9162 inclusion proof of one record relative to a signed
checkpoint, and ``threadline verify-proof`` checks one offline, with the public key and the
checkpoint only (:mod:`threadline.integrity.proofs`).  The private key comes from ``--key`` or
the ``checkpoint_key`` setting.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from threadline.cli import render, state
from threadline.errors import IntegrityError, NotFound, UsageError
from threadline.store.base import IntegrityAdmin, Store

if TYPE_CHECKING:
    from threadline.integrity.signing import SigningKey
    from threadline.store.base import StoredCheckpoint

# threadline.integrity.signing and sqlalchemy are imported inside the commands: every CLI
# invocation imports this module, and only these commands need cryptography (~30 ms) and
# SQLAlchemy (~170 ms).

Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def register(app: typer.Typer) -> None:
    """Add the key, checkpoint, proof and attestation commands to ``app``."""
    register_proofs(app)
    register_attest(app)

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
            Path | None,
            typer.Option(
                "--key",
                metavar="PATH",
                help="The private key to sign with (from threadline keygen; default: the "
                "checkpoint_key setting).",
            ),
        ] = None,
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
        from threadline.store.admin import default_origin

        signing_key = _signing_key(key)  # before the log is read: a bad key fails fast
        with state.open_existing(store) as opened:
            taken = _checkpoint(opened)
            name = origin if origin is not None else default_origin(opened.url)
        note = _signed_note(name, taken, signing_key)
        if out is not None:
            _write(out, note, "checkpoint")
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


def _signing_key(path: Path | None) -> SigningKey:
    """The private key at ``path``, or at the ``checkpoint_key`` setting."""
    from threadline.integrity.signing import SigningKey

    configured = state.settings().checkpoint_key
    if path is None and configured is None:
        raise UsageError(
            "no signing key: pass --key PATH (from threadline keygen) or set checkpoint_key"
        )
    return SigningKey.load(path if path is not None else Path(str(configured)))


def _signed_note(origin: str, taken: StoredCheckpoint, key: SigningKey) -> str:
    from threadline.integrity.checkpoint import Checkpoint, sign_checkpoint

    checkpoint = Checkpoint(origin, taken.tree_size, taken.root, taken.created_us // 1000)
    return sign_checkpoint(checkpoint, key).to_text()


def _write(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot write {what} file {path}: {exc.strerror}", detail={"path": str(path)}
        ) from None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read {what} file {path}: {exc.strerror}", detail={"path": str(path)}
        ) from None


def _record_id(text: str) -> dict[str, Any]:
    """``{"seq": 42}`` or ``{"digest": b"…"}`` for the ID ``threadline prove`` takes."""
    from threadline.integrity.proofs import decode_digest

    if text.isascii() and text.isdigit():
        return {"seq": int(text)}
    digest = decode_digest(text)
    if digest is None:
        raise UsageError(
            f"{text!r} is not a record id: give its seq (e.g. 42) or its event digest "
            "(b3: and 64 hex digits)"
        )
    return {"digest": digest}


def _prove(
    store: Store,
    ident: dict[str, Any],
    note: str | None,
    origin: str | None,
    key: Path | None,
) -> dict[str, Any]:
    from threadline.integrity.checkpoint import Checkpoint
    from threadline.integrity.note import SignedNote
    from threadline.integrity.proofs import InclusionProof
    from threadline.store.admin import default_origin, find_seq, inclusion

    if not isinstance(store, IntegrityAdmin):
        raise UsageError(f"store {store.safe_url} cannot make proofs (its backend has no admin)")
    seq = find_seq(store, **ident)
    if note is None:
        signing_key = _signing_key(key)
        taken = _checkpoint(store)
        note = _signed_note(origin or default_origin(store.url), taken, signing_key)
    claimed = Checkpoint.parse(SignedNote.parse(note).text)
    found = inclusion(store, seq, claimed.size)
    if found.root != claimed.root:
        raise IntegrityError(
            f"the log's first {claimed.size} records do not hash to the checkpoint's root: "
            "the log changed since (run threadline verify --checkpoint)"
        )
    return InclusionProof(
        found.leaf_index,
        found.seq,
        claimed.size,
        found.body,
        found.prev_hash,
        tuple(found.audit_path),
        note,
    ).to_dict()


def register_proofs(app: typer.Typer) -> None:
    """Add ``prove`` and ``verify-proof`` to ``app``."""

    @app.command()
    def prove(
        record: Annotated[
            str,
            typer.Argument(
                metavar="ID", help="The record: its seq (42) or its event digest (b3:<hex>)."
            ),
        ],
        checkpoint: Annotated[
            Path | None,
            typer.Option(
                "--checkpoint",
                metavar="NOTE",
                help="Prove against this signed checkpoint (default: sign a checkpoint of the "
                "log now with --key or checkpoint_key).",
            ),
        ] = None,
        key: Annotated[
            Path | None,
            typer.Option(
                "--key",
                metavar="PATH",
                help="The private key to sign a new checkpoint with (default: checkpoint_key).",
            ),
        ] = None,
        origin: Annotated[
            str | None,
            typer.Option("--origin", metavar="NAME", help="The log's name in a new checkpoint."),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", "-o", metavar="FILE", help="Write the proof here."),
        ] = None,
    ) -> None:
        """Print an RFC 9162 inclusion proof of one record (JSON: leaf index, tree size, audit
        path, the record, and the signed checkpoint it is relative to)."""
        ident = _record_id(record)
        note = _read(checkpoint, "checkpoint").decode("utf-8", "replace") if checkpoint else None
        with state.open_existing() as opened:
            proof = _prove(opened, ident, note, origin, key)
        if out is None:
            render.print_json(proof)
            return
        _write(out, _json_text(proof), "proof")
        render.outcome_line(
            True,
            f"inclusion proof of record {proof['seq']} in the tree of {proof['tree_size']} "
            f"records ({len(proof['audit_path'])} hashes) written to {out}",
        )

    @app.command("verify-proof")
    def verify_proof(
        proof: Annotated[
            Path, typer.Argument(metavar="PROOF", help="The proof file from threadline prove.")
        ],
        checkpoint: Annotated[
            Path,
            typer.Option("--checkpoint", metavar="NOTE", help="The signed checkpoint you trust."),
        ],
        key: Annotated[
            Path | None,
            typer.Option(
                "--key",
                metavar="PUBKEY",
                help="The public key the checkpoint must be signed with (default: the public "
                "half of checkpoint_key).",
            ),
        ] = None,
        origin: Annotated[
            str | None,
            typer.Option("--origin", metavar="NAME", help="Require the checkpoint of this log."),
        ] = None,
        json: Json = False,
    ) -> None:
        """Check an inclusion proof offline, with only the public key and a checkpoint (no
        store): exit 5 naming what is wrong if it does not hold."""
        from threadline.integrity.proofs import InclusionProof, verify_inclusion_proof
        from threadline.integrity.signing import public_key_for

        parsed = InclusionProof.parse(_read(proof, "proof"))
        public = public_key_for(key, state.settings().checkpoint_key)
        trusted = verify_inclusion_proof(
            parsed, _read(checkpoint, "checkpoint"), public, origin=origin
        )
        report: dict[str, Any] = {
            "ok": True,
            "leaf_index": parsed.leaf_index,
            "seq": parsed.seq,
            "event_digest": "b3:" + parsed.event_digest.hex(),
            "origin": trusted.origin,
            "tree_size": trusted.size,
            "key_id": public.key_id(trusted.origin).hex(),
        }
        if json:
            render.print_json(report)
        else:
            render.outcome_line(
                True,
                f"record {parsed.leaf_index + 1} ({report['event_digest'][:19]}…) is in the "
                f"log {trusted.origin} at tree size {trusted.size} (key ID {report['key_id']})",
            )


def register_attest(app: typer.Typer) -> None:
    """Add ``attest`` to ``app``."""

    @app.command()
    def attest(
        model: Annotated[Path, typer.Argument(metavar="MODEL", help="The model file to attest.")],
        key: Annotated[
            Path | None,
            typer.Option(
                "--key",
                metavar="PATH",
                help="The private key to sign with (default: the checkpoint_key setting).",
            ),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", "-o", metavar="FILE", help="Write the envelope here, not to stdout."
            ),
        ] = None,
    ) -> None:
        """Sign the model's provenance: an in-toto Statement v1 with a SLSA Provenance v1
        predicate (subject: the file's sha256 and BLAKE3; dependencies: every upstream
        dataset version, code commit and parameters in its trace) in a DSSE envelope."""
        from threadline.export.attest import attest as signed_attestation
        from threadline.export.attest import envelope_text

        signing_key = _signing_key(key)
        with state.open_existing() as opened:
            envelope = signed_attestation(opened, model, signing_key)
        if out is None:
            render.print_json(envelope)
            return
        _write(out, envelope_text(envelope), "attestation")
        render.outcome_line(True, f"signed provenance of {model} written to {out}")


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"


__all__ = ["register", "register_attest", "register_proofs"]
