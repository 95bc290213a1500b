"""Signed checkpoints: canonical text, Ed25519 signatures, key files."""

from __future__ import annotations

import dataclasses
import stat
from collections.abc import Callable
from pathlib import Path

import blake3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from hypothesis import given
from hypothesis import strategies as st

from threadline.errors import UsageError
from threadline.integrity.merkle import leaf_hash, root
from threadline.integrity.signing import (
    Checkpoint,
    SigningKey,
    VerifyingKey,
    sign_checkpoint,
    verify_checkpoint,
)

ROOT = root([leaf_hash(bytes([i])) for i in range(8)])
CHECKPOINT = Checkpoint("example.com/lineage", 8, ROOT, 1_732_500_000_000)
TEXT = CHECKPOINT.to_text()


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def signature(key: SigningKey) -> bytes:
    return sign_checkpoint(CHECKPOINT, key)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# Checkpoint text


def test_checkpoint_text_is_the_c2sp_body_with_a_timestamp_line() -> None:
    checkpoint = Checkpoint("example.com/lineage", 1048576, bytes(range(32)), 1_732_500_000_000)
    assert checkpoint.to_text() == (
        "example.com/lineage\n"
        "1048576\n"
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
        "timestamp_ms 1732500000000\n"
    )


@given(
    # Letters, digits and punctuation: "+" (a math symbol) and spaces are refused by design.
    origin=st.text(st.characters(codec="ascii", categories=["L", "N", "P"]), min_size=1),
    size=st.integers(0, 2**64 - 1),
    root_hash=st.binary(min_size=1, max_size=64),
    timestamp_ms=st.integers(0, 2**63 - 1),
)
def test_checkpoint_text_round_trips(
    origin: str, size: int, root_hash: bytes, timestamp_ms: int
) -> None:
    checkpoint = Checkpoint(origin, size, root_hash, timestamp_ms)
    text = checkpoint.to_text()
    assert Checkpoint.parse(text) == checkpoint
    assert Checkpoint.parse(text.encode()) == checkpoint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TEXT.rstrip("\n"), "must end with a newline"),
        (TEXT + "extension\n", "has 5 lines"),
        (TEXT.replace("\n", "\r\n"), "not printable|not base64|not a decimal"),
        (TEXT.replace("\n8\n", "\n08\n"), "'08' is not a decimal number without leading zeros"),
        (TEXT.replace("\n8\n", "\n+8\n"), "is not a decimal number"),
        (TEXT.replace("\n8\n", "\n-1\n"), "is not a decimal number"),
        (TEXT.replace("\n8\n", "\n\u0668\n"), "is not a decimal number"),  # Arabic-Indic 8
        (TEXT.replace("\n8\n", f"\n{2**64}\n"), r"must be in 0\.\.2\*\*64-1"),
        (TEXT.replace("=\n", "\n"), "is not base64"),
        (TEXT.replace("=\n", "==\n"), "is not base64"),
        (TEXT.replace("timestamp_ms ", "timestamp "), "line 4 must be 'timestamp_ms <n>'"),
        (TEXT.replace("timestamp_ms 1", "timestamp_ms  1"), "is not a decimal number"),
        ("\n" + TEXT.split("\n", 1)[1], "origin '' must be non-empty"),
        ("example.com lineage\n" + TEXT.split("\n", 1)[1], "free of spaces and '\\+'"),
    ],
)
def test_checkpoint_parse_accepts_only_the_canonical_text(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Checkpoint.parse(text)


def test_non_canonical_base64_is_refused() -> None:
    # "AB==" and "AA==" decode to the same byte; only the form with zero padding bits is valid.
    text = TEXT.replace(TEXT.split("\n")[2], "AB==")
    with pytest.raises(UsageError, match="not canonical base64"):
        Checkpoint.parse(text)


def test_checkpoint_parse_refuses_text_that_is_not_utf8() -> None:
    with pytest.raises(UsageError, match="not UTF-8"):
        Checkpoint.parse(b"\xff" + TEXT.encode())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"origin": ""}, "must be non-empty"),
        ({"origin": "a\nb"}, "printable"),
        ({"origin": "a+b"}, "'\\+'"),
        ({"size": -1}, "tree size -1"),
        ({"size": 2**64}, "tree size"),
        ({"root": b""}, "root hash is empty"),
        ({"timestamp_ms": -1}, "Unix milliseconds"),
    ],
)
def test_checkpoint_refuses_values_it_cannot_write(change: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        dataclasses.replace(CHECKPOINT, **change)  # type: ignore[arg-type]


# Signatures


def test_a_signed_checkpoint_verifies(key: SigningKey, signature: bytes) -> None:
    assert len(signature) == 64
    assert verify_checkpoint(TEXT, signature, key.verifying_key)
    assert verify_checkpoint(TEXT.encode(), signature, key.verifying_key)
    assert Checkpoint.parse(TEXT) == CHECKPOINT


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: dataclasses.replace(c, origin="example.com/other"),
        lambda c: dataclasses.replace(c, size=c.size + 1),
        lambda c: dataclasses.replace(c, size=c.size - 1),
        lambda c: dataclasses.replace(c, root=bytes([c.root[0] ^ 1]) + c.root[1:]),
        lambda c: dataclasses.replace(c, root=c.root[:-1]),
        lambda c: dataclasses.replace(c, timestamp_ms=c.timestamp_ms + 1),
    ],
    ids=["origin", "size-up", "size-down", "root-byte", "root-truncated", "timestamp"],
)
def test_a_tampered_checkpoint_fails(
    key: SigningKey, signature: bytes, tamper: Callable[[Checkpoint], Checkpoint]
) -> None:
    assert not verify_checkpoint(tamper(CHECKPOINT).to_text(), signature, key.verifying_key)


def test_every_single_bit_flip_of_the_text_fails(key: SigningKey, signature: bytes) -> None:
    data = TEXT.encode()
    for position in range(len(data)):
        for bit in range(8):
            tampered = bytearray(data)
            tampered[position] ^= 1 << bit
            assert not verify_checkpoint(bytes(tampered), signature, key.verifying_key)


def test_a_tampered_signature_fails(key: SigningKey, signature: bytes) -> None:
    public = key.verifying_key
    for position in range(len(signature)):
        tampered = bytearray(signature)
        tampered[position] ^= 0x01
        assert not verify_checkpoint(TEXT, bytes(tampered), public)
    for bad in (b"", signature[:-1], signature + b"\x00", bytes(64)):
        assert not verify_checkpoint(TEXT, bad, public)


def test_another_key_fails(signature: bytes) -> None:
    assert not verify_checkpoint(TEXT, signature, SigningKey.generate().verifying_key)


def test_a_signed_but_non_canonical_text_fails(key: SigningKey) -> None:
    text = TEXT.replace("\n8\n", "\n08\n").encode()
    assert not verify_checkpoint(text, key.sign(text), key.verifying_key)


# Keys


def test_key_id_is_the_start_of_the_blake3_of_the_raw_public_key(key: SigningKey) -> None:
    public = key.verifying_key
    assert len(public.raw) == 32
    assert public.key_id == blake3.blake3(public.raw).digest()[:4]
    assert public.key_id != SigningKey.generate().verifying_key.key_id
    assert repr(public) == f"VerifyingKey(key_id={public.key_id.hex()!r})"
    assert repr(key) == f"SigningKey(key_id={public.key_id.hex()!r})"


def test_private_key_pem_round_trip_with_mode_0600(
    tmp_path: Path, key: SigningKey, signature: bytes
) -> None:
    path = tmp_path / "signing.pem"
    key.save(path)
    assert mode(path) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = SigningKey.load(path)
    assert loaded.verifying_key == key.verifying_key
    assert sign_checkpoint(CHECKPOINT, loaded) == signature  # Ed25519 is deterministic


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
