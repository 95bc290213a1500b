"""threadline keygen and threadline checkpoint, with real keys and a real SQLite store."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import sqlite3
import stat
from pathlib import Path
from typing import Any

import blake3
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from tests.support.events import dataset, event
from typer.testing import CliRunner

from threadline.cli import app
from threadline.errors import IntegrityError, NotFound, UsageError
from threadline.integrity import merkle
from threadline.integrity.chain import link
from threadline.integrity.checkpoint import Checkpoint, open_checkpoint
from threadline.integrity.note import SignedNote
from threadline.integrity.signing import VerifyingKey
from threadline.model.canonical import canonical_json
from threadline.store import open_store
from threadline.store.admin import default_origin


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "lineage.db"
    with open_store(path) as store:
        store.append_batch(
            [event(run, inputs=[dataset("/raw.csv", "b3:01")]) for run in range(1, 6)]
        )
    return path


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "log.key"
    path.parent.mkdir()
    code, _out, err = invoke("keygen", "--out", str(path))
    assert code == 0, err
    return path


def public(key: Path) -> VerifyingKey:
    return VerifyingKey.load(key.with_name(key.name + ".pub"))


# keygen


def test_keygen_writes_a_private_key_only_its_owner_reads_and_the_public_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "signing.key"
    code, out, err = invoke("keygen", "--out", str(path))
    assert code == 0, err
    assert out.startswith(f"✓ wrote signing key {path} (private, mode 0600)")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    pub = tmp_path / "signing.key.pub"
    assert pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing.key", "signing.key.pub"]


@pytest.mark.parametrize("existing", ["signing.key", "signing.key.pub"])
def test_keygen_keeps_existing_keys_unless_forced(tmp_path: Path, existing: str) -> None:
    path = tmp_path / "signing.key"
    (tmp_path / existing).write_bytes(b"precious")
    code, _out, err = invoke("keygen", "--out", str(path))
    assert code == UsageError.exit_code == 2
    assert err.startswith(f"error: {tmp_path / existing} already exists; pass --force")
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]
    assert (tmp_path / existing).read_bytes() == b"precious"
    code, out, err = invoke("keygen", "--out", str(path), "--force", "--json")
    assert code == 0, err
    report = orjson.loads(out)
    assert report == {
        "signing_key": str(path),
        "public_key": str(tmp_path / "signing.key.pub"),
        "public_key_raw": report["public_key_raw"],
    }
    assert base64.b64decode(report["public_key_raw"]) == public(path).raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_two_keygens_make_two_keys(tmp_path: Path) -> None:
    for name in ("a.key", "b.key"):
        assert invoke("keygen", "--out", str(tmp_path / name))[0] == 0
    assert public(tmp_path / "a.key") != public(tmp_path / "b.key")


# checkpoint


def test_keygen_checkpoint_parse_and_verify_round_trip(db: Path, key: Path, tmp_path: Path) -> None:
    note_file = tmp_path / "checkpoint.note"
    code, out, err = invoke(
        "checkpoint",
        "--key",
        str(key),
        "--store",
        str(db),
        "--origin",
        "example.com/lineage",
        "--out",
        str(note_file),
    )
    assert code == 0, err
    assert out.startswith("✓ signed checkpoint of 5 records of example.com/lineage (key ID ")
    assert out.rstrip().endswith(f"written to {note_file}")
    note = note_file.read_text(encoding="utf-8")

    # The note, read with nothing but the spec: text, blank line, "— <name> <base64>".
    text, signature_line = note.split("\n\n")
    dash, name, blob = signature_line.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", "example.com/lineage")
    raw = base64.b64decode(blob, validate=True)
    key_bytes = public(key).raw
    assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x01" + key_bytes).digest()[:4]
    Ed25519PublicKey.from_public_bytes(key_bytes).verify(raw[4:], (text + "\n").encode())

    checkpoint = open_checkpoint(note, public(key), origin="example.com/lineage")
    with open_store(db) as store:
        report = store.verify()
        assert store.checkpoints()[-1].tree_size == 5
    assert (checkpoint.size, checkpoint.root) == (5, report.root)
    assert checkpoint == Checkpoint.parse(text + "\n")


def test_a_wrong_key_is_rejected(db: Path, key: Path, tmp_path: Path) -> None:
    code, note, err = invoke("checkpoint", "--key", str(key), "--store", str(db))
    assert code == 0, err
    other = tmp_path / "other.key"
    assert invoke("keygen", "--out", str(other))[0] == 0
    with pytest.raises(IntegrityError, match="no signature by key"):
        open_checkpoint(note, public(other))
    assert open_checkpoint(note, public(key)).size == 5


@pytest.mark.parametrize(
    ("old", "new"),
    [("\n5\n", "\n6\n"), ("\n5\n", "\n4\n"), ("timestamp_ms 1", "timestamp_ms 2")],
    ids=["size-up", "size-down", "timestamp"],
)
def test_a_tampered_note_is_rejected(db: Path, key: Path, old: str, new: str) -> None:
    code, note, err = invoke("checkpoint", "--key", str(key), "--store", str(db))
    assert code == 0, err
    assert old in note
    with pytest.raises(IntegrityError, match="does not verify"):
        open_checkpoint(note.replace(old, new, 1), public(key))


def test_the_note_goes_to_stdout_and_json_says_everything(db: Path, key: Path) -> None:
    code, note, err = invoke("--store", str(db), "checkpoint", "--key", str(key))
    assert code == 0, err
    parsed = SignedNote.parse(note)
    origin = default_origin(f"sqlite:///{db}")
    assert parsed.signatures[0].name == origin
    code, out, err = invoke("checkpoint", "--key", str(key), "--store", str(db), "--json")
    assert code == 0, err
    report = orjson.loads(out)
    assert list(report) == [
        "origin",
        "tree_size",
        "root",
        "timestamp_ms",
        "key_id",
        "vkey",
        "note",
        "out",
    ]
    assert report["note"] == note  # nothing appended since: the same checkpoint, same note
    assert (report["origin"], report["tree_size"], report["out"]) == (origin, 5, None)
    assert report["key_id"] == public(key).key_id(origin).hex()
    assert VerifyingKey.from_vkey(report["vkey"]) == (origin, public(key))
    assert open_checkpoint(report["note"], public(key)).root == base64.b64decode(report["root"])


def test_a_later_checkpoint_covers_the_new_records(db: Path, key: Path) -> None:
    first = open_checkpoint(
        invoke("checkpoint", "--key", str(key), "--store", str(db))[1], public(key)
    )
    with open_store(db) as store:
        store.append_batch([event(9)])
    second = open_checkpoint(
        invoke("checkpoint", "--key", str(key), "--store", str(db))[1], public(key)
    )
    assert (first.size, second.size) == (5, 6)
    assert first.root != second.root


def test_a_log_that_fails_verification_is_not_signed(db: Path, key: Path) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE tl_events SET body = CAST('{}' AS BLOB) WHERE seq = 3")
    code, out, err = invoke("checkpoint", "--key", str(key), "--store", str(db))
    assert code == IntegrityError.exit_code == 5
    assert out == ""
    assert err.startswith("error: the log fails verification at record 3")
    with open_store(db) as store:
        assert store.checkpoints() == []


def test_an_empty_store_has_nothing_to_sign(tmp_path: Path, key: Path) -> None:
    db = tmp_path / "empty.db"
    open_store(db).close()
    code, _out, err = invoke("checkpoint", "--key", str(key), "--store", str(db))
    assert code == NotFound.exit_code == 3
    assert "holds no records yet" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--key", "{tmp}/missing.key"], 2, "signing key file .*missing.key does not exist"),
        (["--key", "{key}.pub"], 2, "holds a public key; signing needs the private key"),
        (["--key", "{key}", "--origin", "has space"], 2, "free of spaces"),
        (["--key", "{key}", "--store", "{tmp}/none.db"], 4, "no store at"),
        (["--key", "{key}", "--out", "{tmp}/no/such/dir/x.note"], 2, "cannot write checkpoint"),
    ],
    ids=["missing-key", "public-key", "bad-origin", "missing-store", "unwritable-out"],
)
def test_bad_arguments_are_clear_errors(
    db: Path, key: Path, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    filled = [a.format(tmp=tmp_path, key=key) for a in args]
    if "--store" not in filled:
        filled += ["--store", str(db)]
    got, _out, err = invoke("checkpoint", *filled)
    assert got == code, err
    assert err.startswith("error: ")
    assert "\n" not in err.rstrip("\n")
    assert re.search(message, err), err


def test_the_default_origin_is_a_key_name_without_secrets(tmp_path: Path) -> None:
    spaced = tmp_path / "my dir+x" / "lineage.db"
    origin = default_origin(f"sqlite:///{spaced}")
    assert origin.endswith("/my%20dir%2Bx/lineage.db")
    assert " " not in origin
    assert "+" not in origin
    assert default_origin("postgresql+psycopg://alice:s3cret@db.example:5433/lineage") == (
        "db.example:5433/lineage"
    )


# verify --checkpoint


@pytest.fixture
def signed(db: Path, key: Path, tmp_path: Path) -> Path:
    note = tmp_path / "checkpoint.note"
    code, _out, err = invoke(
        "checkpoint", "--key", str(key), "--store", str(db), "--out", str(note)
    )
    assert code == 0, err
    return note


def verify(db: Path, note: Path, pub: Path, *extra: str) -> tuple[int, str, str]:
    return invoke(
        "--store", str(db), "verify", "--checkpoint", str(note), "--key", str(pub), *extra
    )


def test_verify_proves_the_log_holds_what_the_checkpoint_vouched_for(
    db: Path, key: Path, signed: Path
) -> None:
    pub = key.with_name(key.name + ".pub")
    code, out, err = verify(db, signed, pub)
    assert code == 0, err
    origin = default_origin(f"sqlite:///{db}")
    assert out.splitlines()[1] == f"✓ matches the signed checkpoint of {origin} at size 5"
    with open_store(db) as store:
        store.append_batch([event(9)])  # the log grows: still a prefix of it
    code, out, err = verify(db, signed, pub, "--json")
    assert code == 0, err
    report = orjson.loads(out)
    assert report["ok"] is True
    assert report["records"] == 6
    assert report["signed_checkpoint"] == {
        "origin": origin,
        "tree_size": 5,
        "log_size": 6,
        "timestamp_ms": report["signed_checkpoint"]["timestamp_ms"],
        "ok": True,
        "reason": None,
        "findings": [],
    }


def test_verify_refuses_a_checkpoint_signed_by_another_key(
    db: Path, signed: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.key"
    assert invoke("keygen", "--out", str(other))[0] == 0
    code, out, err = verify(db, signed, other.with_name("other.key.pub"))
    assert code == IntegrityError.exit_code
    assert out == ""
    assert err.startswith("error: the note carries no signature by key ")


def test_verify_refuses_a_tampered_checkpoint(db: Path, key: Path, signed: Path) -> None:
    signed.write_text(signed.read_text().replace("\n5\n", "\n4\n", 1))
    code, _out, err = verify(db, signed, key.with_name(key.name + ".pub"))
    assert code == IntegrityError.exit_code
    assert "does not verify: its text was altered" in err


def test_verify_catches_a_tail_cut_off_after_the_signed_checkpoint(
    db: Path, key: Path, signed: Path
) -> None:
    # The tamperer removes the last record and the store's own checkpoint of it: the chain
    # and the stored checkpoints still verify, the signed checkpoint held elsewhere does not.
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DELETE FROM tl_events WHERE seq = 5")
        conn.execute("DELETE FROM tl_checkpoints")
    code, out, err = verify(db, signed, key.with_name(key.name + ".pub"))
    assert code == IntegrityError.exit_code
    assert out.startswith("✓ verified 4 records")
    assert "✗ does not match the signed checkpoint" in out
    assert err.startswith("error: the log does not hold what the signed checkpoint of ")
    assert "records 5..5 are missing" in err


def test_a_checkpoint_needs_a_key_and_a_key_a_checkpoint(
    db: Path, signed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THREADLINE_CHECKPOINT_KEY", raising=False)
    code, _out, err = invoke("--store", str(db), "verify", "--checkpoint", str(signed))
    assert code == UsageError.exit_code
    assert err.startswith("error: --checkpoint FILE and --key PUBKEY go together")
    code, _out, err = invoke("--store", str(db), "verify", "--key", str(signed))
    assert code == UsageError.exit_code
    assert err.startswith("error: --key PUBKEY checks a signed checkpoint: pass --checkpoint")


def test_the_key_can_come_from_the_checkpoint_key_setting(
    db: Path, key: Path, signed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADLINE_CHECKPOINT_KEY", str(key))
    code, out, err = invoke("--store", str(db), "verify", "--checkpoint", str(signed))
    assert code == 0, err
    assert "✓ matches the signed checkpoint" in out
    # Without the .pub beside it, the public half is taken from the private key.
    key.with_name(key.name + ".pub").unlink()
    assert invoke("--store", str(db), "verify", "--checkpoint", str(signed))[0] == 0
    assert invoke("--store", str(db), "checkpoint", "--out", str(signed))[0] == 0


def relink(db: Path, seq: int, *, forge_rows: bool) -> None:
    """Rewrite record ``seq``'s body and re-link every record after it, as an operator who
    controls the store can; with ``forge_rows`` the stored checkpoints are recomputed too, so
    the plain verify passes."""
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        rows = conn.execute("SELECT seq, body, prev_hash FROM tl_events ORDER BY seq").fetchall()
        prev = rows[0][2]
        hashes = []
        for number, body, old_prev in rows:
            if number == seq:
                event = orjson.loads(body)
                event["producer"] = "https://forged.example/producer"
                body = canonical_json(event)
                conn.execute(
                    "UPDATE tl_events SET body = ?, digest = ? WHERE seq = ?",
                    (body, blake3.blake3(body).digest(), number),
                )
            new_hash = link(prev if number > 1 else old_prev, body)
            conn.execute(
                "UPDATE tl_events SET prev_hash = ?, hash = ? WHERE seq = ?",
                (prev if number > 1 else old_prev, new_hash, number),
            )
            hashes.append(new_hash)
            prev = new_hash
        if forge_rows:
            for (size,) in conn.execute("SELECT tree_size FROM tl_checkpoints").fetchall():
                root = merkle.root([merkle.leaf_hash(h) for h in hashes[:size]])
                conn.execute("UPDATE tl_checkpoints SET root = ? WHERE tree_size = ?", (root, size))


def test_verify_catches_a_chain_rewritten_and_relinked_with_forged_checkpoint_rows(
    db: Path, key: Path, signed: Path
) -> None:
    relink(db, 2, forge_rows=True)
    assert invoke("--store", str(db), "verify")[0] == 0  # the store alone cannot tell
    code, out, err = verify(db, signed, key.with_name(key.name + ".pub"))
    assert code == IntegrityError.exit_code
    assert "✗ does not match the signed checkpoint" in out
    assert "the log's first 5 records no longer hash to the checkpoint's root" in err
    assert "the store's checkpoint row for size 5 holds another root" in err
    assert "it was forged" in err


def test_verify_names_a_deleted_checkpoint_row(db: Path, key: Path, signed: Path) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("DELETE FROM tl_checkpoints")
    code, _out, err = verify(db, signed, key.with_name(key.name + ".pub"))
    assert code == IntegrityError.exit_code
    assert err.rstrip().endswith("the store's checkpoint row for size 5 is missing: it was deleted")


def test_verify_refuses_another_logs_checkpoint_when_the_origin_is_given(
    db: Path, key: Path, signed: Path
) -> None:
    code, _out, err = verify(db, signed, key.with_name(key.name + ".pub"), "--origin", "a.b/c")
    assert code == IntegrityError.exit_code
    assert "not 'a.b/c'" in err


# prove and verify-proof


def test_prove_and_verify_proof_offline(db: Path, key: Path, signed: Path, tmp_path: Path) -> None:
    pub = key.with_name(key.name + ".pub")
    proof_file = tmp_path / "p.json"
    code, out, err = invoke("--store", str(db), "prove", "3", "--checkpoint", str(signed))
    assert code == 0, err
    proof = orjson.loads(out)
    assert (proof["leaf_index"], proof["seq"], proof["tree_size"]) == (2, 3, 5)
    assert proof["checkpoint"] == signed.read_text()
    assert len(proof["audit_path"]) == 3  # ceil(log2(5))
    # The same record by its event digest.
    code, out, err = invoke(
        "--store",
        str(db),
        "prove",
        proof["event_digest"],
        "--checkpoint",
        str(signed),
        "--out",
        str(proof_file),
    )
    assert code == 0, err
    assert orjson.loads(proof_file.read_bytes()) == proof
    db.unlink()  # offline: no store
    code, out, err = invoke(
        "verify-proof", str(proof_file), "--checkpoint", str(signed), "--key", str(pub)
    )
    assert code == 0, err
    assert out.startswith(f"✓ record 3 ({proof['event_digest'][:19]}…) is in the log ")


def test_prove_signs_a_new_checkpoint_with_the_key(db: Path, key: Path, tmp_path: Path) -> None:
    with open_store(db) as store:
        store.append_batch([event(8)])
    code, out, err = invoke("--store", str(db), "prove", "6", "--key", str(key))
    assert code == 0, err
    proof = orjson.loads(out)
    assert proof["tree_size"] == 6
    note = tmp_path / "from-proof.note"
    note.write_text(proof["checkpoint"])
    open_checkpoint(note.read_text(), public(key))


def test_prove_errors(db: Path, key: Path, signed: Path) -> None:
    code, _out, err = invoke("--store", str(db), "prove", "x1", "--checkpoint", str(signed))
    assert code == UsageError.exit_code
    assert "is not a record id" in err
    code, _out, err = invoke("--store", str(db), "prove", "99", "--checkpoint", str(signed))
    assert code == NotFound.exit_code
    assert err.startswith("error: the log holds no record with seq 99")
    with open_store(db) as store:
        store.append_batch([event(8)])
    code, _out, err = invoke("--store", str(db), "prove", "6", "--checkpoint", str(signed))
    assert code == NotFound.exit_code
    assert "record 6 is not among the checkpoint's first 5 records" in err


def test_verify_proof_rejects_wrong_key_forged_replayed_and_truncated(
    db: Path, key: Path, signed: Path, tmp_path: Path
) -> None:
    pub = key.with_name(key.name + ".pub")
    proof_file = tmp_path / "p.json"
    assert (
        invoke(
            "--store", str(db), "prove", "2", "--checkpoint", str(signed), "-o", str(proof_file)
        )[0]
        == 0
    )
    other = tmp_path / "other.key"
    assert invoke("keygen", "--out", str(other))[0] == 0

    def check(proof: Path, note: Path, public_key: Path) -> tuple[int, str]:
        code, out, err = invoke(
            "verify-proof", str(proof), "--checkpoint", str(note), "--key", str(public_key)
        )
        assert out == ""
        assert len(err.strip().splitlines()) == 1  # one clear line
        return code, err

    code, err = check(proof_file, signed, other.with_name("other.key.pub"))
    assert (code, err.startswith("error: the note carries no signature by key")) == (5, True)
    forged = tmp_path / "forged.json"
    data = orjson.loads(proof_file.read_bytes())
    forged.write_bytes(orjson.dumps(data | {"leaf_index": 3}))
    code, err = check(forged, signed, pub)
    assert code == IntegrityError.exit_code
    assert "does not lead to the checkpoint's root" in err
    # Replayed: the proof of an older checkpoint, checked against a newer one.
    with open_store(db) as store:
        store.append_batch([event(8)])
    newer = tmp_path / "newer.note"
    assert invoke("--store", str(db), "checkpoint", "--key", str(key), "-o", str(newer))[0] == 0
    code, err = check(proof_file, newer, pub)
    assert code == IntegrityError.exit_code
    assert "relative to a checkpoint of size 5, not the trusted one of size 6" in err
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(proof_file.read_bytes()[:100])
    code, err = check(truncated, signed, pub)
    assert code == UsageError.exit_code
    assert err.startswith("error: the proof is not JSON")
    short_note = tmp_path / "short.note"
    short_note.write_text(signed.read_text().split("\n\n")[0] + "\n")
    code, err = check(proof_file, short_note, pub)
    assert code == UsageError.exit_code
    assert "the note has no blank line" in err


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda text: text.split("\n\n")[0] + "\n", "the note has no blank line"),
        (lambda text: text[: text.rindex(" ") + 8], "must end with a newline"),
        (lambda text: "", "the note has no blank line"),
    ],
)
def test_verify_refuses_a_truncated_checkpoint_in_one_line(
    db: Path, key: Path, signed: Path, cut: Any, message: str
) -> None:
    signed.write_text(cut(signed.read_text()))
    code, out, err = verify(db, signed, key.with_name(key.name + ".pub"))
    assert code == UsageError.exit_code
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert message in err


def test_checkpoint_without_a_key_says_where_one_comes_from(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THREADLINE_CHECKPOINT_KEY", raising=False)
    code, _out, err = invoke("--store", str(db), "checkpoint")
    assert code == UsageError.exit_code
    assert err.startswith("error: no signing key: pass --key PATH (from threadline keygen) or set")


def test_a_proof_of_a_body_edited_in_the_store_fails_offline(
    db: Path, key: Path, signed: Path, tmp_path: Path
) -> None:
    # The operator edits a body but leaves the hash column: the proof the store makes
    # carries the edited body, whose leaf no longer leads to the signed root.
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        body = conn.execute("SELECT body FROM tl_events WHERE seq = 2").fetchone()[0]
        conn.execute(
            "UPDATE tl_events SET body = ? WHERE seq = 2",
            (bytes(body).replace(b"COMPLETE", b"FAIL"),),
        )
    proof = tmp_path / "p.json"
    code, _out, err = invoke(
        "--store", str(db), "prove", "2", "--checkpoint", str(signed), "-o", str(proof)
    )
    assert code == 0, err
    code, _out, err = invoke(
        "verify-proof",
        str(proof),
        "--checkpoint",
        str(signed),
        "--key",
        str(key.with_name(key.name + ".pub")),
    )
    assert code == IntegrityError.exit_code
    assert "the audit path of record 2 does not lead to the checkpoint's root" in err
