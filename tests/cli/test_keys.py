"""threadline keygen and threadline checkpoint, with real keys and a real SQLite store."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import sqlite3
import stat
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from tests.support.events import dataset, event
from typer.testing import CliRunner

from threadline.cli import app
from threadline.cli.keys import default_origin
from threadline.errors import IntegrityError, NotFound, UsageError
from threadline.integrity.checkpoint import Checkpoint, open_checkpoint
from threadline.integrity.note import SignedNote
from threadline.integrity.signing import VerifyingKey
from threadline.store import open_store


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
        "timestamp_ms": report["signed_checkpoint"]["timestamp_ms"],
        "ok": True,
        "reason": None,
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


@pytest.mark.parametrize("given", ["--checkpoint", "--key"])
def test_checkpoint_and_key_go_together(db: Path, signed: Path, given: str) -> None:
    code, _out, err = invoke("--store", str(db), "verify", given, str(signed))
    assert code == UsageError.exit_code
    assert err.startswith("error: --checkpoint FILE and --key PUBKEY go together")
