"""Ed25519 keys and key files, and signing and opening C2SP signed notes with them."""

from __future__ import annotations

import base64
import hashlib
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from threadline.errors import IntegrityError, UsageError
from threadline.integrity.note import NoteSignature, SignedNote
from threadline.integrity.signing import SigningKey, VerifyingKey, open_note, sign_note


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# Known answer: golang.org/x/mod/sumdb/note (note.go's documentation and note_test.go), the
# reference implementation of the signed-note format.  Ed25519 is deterministic, so signing its
# text with its key must give its note byte for byte.

GO_NAME = "PeterNeumann"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SEED = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # of PRIVATE+KEY+PeterNeumann+c74f20a3+…
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def go_key() -> SigningKey:
    typed = base64.b64decode(GO_SEED)
    assert typed[0] == 0x01  # Ed25519
    return SigningKey(Ed25519PrivateKey.from_private_bytes(typed[1:]))


def test_signing_matches_the_reference_implementation() -> None:
    key = go_key()
    assert sign_note(GO_TEXT, GO_NAME, key).to_text() == GO_NOTE
    assert key.verifying_key.vkey(GO_NAME) == GO_VKEY
    assert key.verifying_key.key_id(GO_NAME) == bytes.fromhex("c74f20a3")


def test_opening_the_reference_note() -> None:
    name, public = VerifyingKey.from_vkey(GO_VKEY)
    assert name == GO_NAME
    assert open_note(GO_NOTE, name, public) == GO_TEXT
    with pytest.raises(IntegrityError, match="does not verify: its text was altered"):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), name, public)
    with pytest.raises(IntegrityError, match="no signature by key EnochRoot"):
        open_note(GO_NOTE, "EnochRoot", public)


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        (GO_VKEY.replace("+c74f20a3+", "+c74f20a4+"), "key ID does not match"),
        (GO_VKEY.replace("PeterNeumann", "Peter"), "key ID does not match"),
        (GO_VKEY.replace("+ARpc", "+AhVc"), "is not an Ed25519 verifier key"),
        ("PeterNeumann+c74f20a3", "is not an Ed25519 verifier key"),
        ("PeterNeumann+zz+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "is not an Ed25519"),
        ("", "is not an Ed25519 verifier key"),
    ],
)
def test_bad_verifier_keys_are_usage_errors(vkey: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        VerifyingKey.from_vkey(vkey)


def test_a_note_signed_by_two_keys_opens_with_either(key: SigningKey) -> None:
    other = SigningKey.generate()
    first = sign_note("hello\n", "a.example/log", key)
    second = sign_note("hello\n", "b.example/witness", other)
    both = SignedNote(first.text, first.signatures + second.signatures).to_text()
    assert open_note(both, "a.example/log", key.verifying_key) == "hello\n"
    assert open_note(both, "b.example/witness", other.verifying_key) == "hello\n"


def test_a_failing_signature_by_the_trusted_key_rejects_the_note(key: SigningKey) -> None:
    good = sign_note("hello\n", "a.example/log", key)
    forged = NoteSignature("a.example/log", good.signatures[0].key_id, bytes(64))
    with pytest.raises(IntegrityError, match="does not verify"):
        open_note(
            SignedNote("hello\n", (*good.signatures, forged)), "a.example/log", key.verifying_key
        )


def test_a_note_text_or_name_that_cannot_be_signed_is_refused(key: SigningKey) -> None:
    with pytest.raises(UsageError, match="must end with a newline"):
        sign_note("no newline", "a.example/log", key)
    with pytest.raises(UsageError, match="control character"):
        sign_note("bell\a\n", "a.example/log", key)
    with pytest.raises(UsageError, match="free of spaces and"):
        sign_note("hello\n", "a example", key)


# Keys


def test_key_id_is_the_c2sp_hash_of_name_type_and_key(key: SigningKey) -> None:
    public = key.verifying_key
    assert len(public.raw) == 32
    expected = hashlib.sha256(b"example.com/lineage\n\x01" + public.raw).digest()[:4]
    assert public.key_id("example.com/lineage") == expected
    assert public.key_id("example.com/other") != expected
    assert public.key_id("example.com/lineage") != (
        SigningKey.generate().verifying_key.key_id("example.com/lineage")
    )
    shown = base64.b64encode(public.raw).decode()
    assert repr(public) == f"VerifyingKey({shown!r})"
    assert repr(key) == f"SigningKey(public=VerifyingKey({shown!r}))"


def test_a_verifier_key_round_trips(key: SigningKey) -> None:
    vkey = key.verifying_key.vkey("example.com/lineage")
    assert VerifyingKey.from_vkey(vkey) == ("example.com/lineage", key.verifying_key)


def test_private_key_pem_round_trip_with_mode_0600(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "signing.pem"
    key.save(path)
    assert mode(path) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = SigningKey.load(path)
    assert loaded.verifying_key == key.verifying_key
    assert loaded.sign(b"message") == key.sign(b"message")  # Ed25519 is deterministic


def test_encrypted_private_key_round_trip(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "signing.pem"
    key.save(path, password=b"correct horse")
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert SigningKey.load(path, password=b"correct horse").verifying_key == key.verifying_key


def test_public_key_pem_and_raw_round_trip(tmp_path: Path, key: SigningKey) -> None:
    public = key.verifying_key
    path = tmp_path / "signing.pub"
    public.save(path)
    assert mode(path) == 0o644
    assert VerifyingKey.load(path) == public
    assert VerifyingKey.from_raw(public.raw) == public
    assert hash(VerifyingKey.from_raw(public.raw)) == hash(public)


def test_saving_keeps_an_existing_key_unless_told(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "signing.pem"
    path.write_bytes(b"precious")
    with pytest.raises(UsageError, match="already exists; pass overwrite=True"):
        key.save(path)
    assert path.read_bytes() == b"precious"
    path.chmod(0o644)
    key.save(path, overwrite=True)
    assert mode(path) == 0o600
    assert SigningKey.load(path).verifying_key == key.verifying_key
    assert [p.name for p in tmp_path.iterdir()] == ["signing.pem"]  # no temporary file left


def test_saving_into_a_missing_directory_is_a_usage_error(tmp_path: Path, key: SigningKey) -> None:
    with pytest.raises(UsageError, match="cannot write signing key file"):
        key.save(tmp_path / "missing" / "signing.pem")


def test_an_empty_password_is_refused(key: SigningKey) -> None:
    with pytest.raises(UsageError, match="empty password"):
        key.to_pem(password=b"")


def other_private_pem(kind: str) -> bytes:
    other = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else ed448.Ed448PrivateKey.generate()
    )
    return other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("content", "password", "message"),
    [
        (lambda k: b"", None, "is not a PEM private key"),
        (lambda k: b"not a key at all", None, "is not a PEM private key"),
        (lambda k: k.to_pem()[:-40], None, "is not a PEM private key"),
        (lambda k: k.verifying_key.to_pem(), None, "holds a public key; signing needs the private"),
        (lambda k: other_private_pem("ec"), None, r"private key of type \w+; .*Ed25519 keys only"),
        (lambda k: other_private_pem("ed448"), None, "private key of type Ed448"),
        (lambda k: k.to_pem(password=b"pw"), None, "is encrypted; pass its password"),
        (lambda k: k.to_pem(password=b"pw"), b"wrong", "or the password is wrong"),
        (lambda k: k.to_pem(), b"pw", "is not encrypted; do not pass a password"),
    ],
    ids=[
        "empty",
        "garbage",
        "truncated",
        "public-key",
        "ec-key",
        "ed448-key",
        "encrypted-no-password",
        "wrong-password",
        "unneeded-password",
    ],
)
def test_bad_private_key_files_are_usage_errors(
    tmp_path: Path,
    key: SigningKey,
    content: Callable[[SigningKey], bytes],
    password: bytes | None,
    message: str,
) -> None:
    path = tmp_path / "signing.pem"
    path.write_bytes(content(key))
    with pytest.raises(UsageError, match=message) as caught:
        SigningKey.load(path, password=password)
    assert str(path) in caught.value.message


def test_a_missing_key_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"signing key file .* does not exist"):
        SigningKey.load(tmp_path / "nope.pem")
    with pytest.raises(UsageError, match=r"public key file .* does not exist"):
        VerifyingKey.load(tmp_path / "nope.pub")


def test_bad_public_keys_are_usage_errors(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "signing.pub"
    path.write_bytes(key.to_pem())
    with pytest.raises(UsageError, match="is not a PEM public key"):
        VerifyingKey.load(path)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    path.write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(UsageError, match=r"public key of type \w+; .*Ed25519"):
        VerifyingKey.load(path)
    with pytest.raises(UsageError, match="is 32 bytes, not 31"):
        VerifyingKey.from_raw(bytes(31))
