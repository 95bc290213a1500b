"""Merkle checkpoints: the canonical text, and signing it as a C2SP signed note."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadline.errors import IntegrityError, UsageError
from threadline.integrity.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from threadline.integrity.merkle import leaf_hash, root
from threadline.integrity.note import SignedNote
from threadline.integrity.signing import SigningKey, sign_note

ROOT = root([leaf_hash(bytes([i])) for i in range(8)])
CHECKPOINT = Checkpoint("example.com/lineage", 8, ROOT, 1_732_500_000_000)
TEXT = CHECKPOINT.to_text()


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def signed(key: SigningKey) -> str:
    return sign_checkpoint(CHECKPOINT, key).to_text()


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


# Signed checkpoints


def test_a_signed_checkpoint_is_the_text_a_blank_line_and_a_signature_by_its_origin(
    key: SigningKey, signed: str
) -> None:
    text, line = signed.split("\n\n")
    assert text + "\n" == TEXT
    prefix, name, encoded = line.rstrip("\n").split(" ")
    assert (prefix, name) == ("\u2014", CHECKPOINT.origin)
    raw = base64.b64decode(encoded, validate=True)
    assert raw[:4] == key.verifying_key.key_id(CHECKPOINT.origin)
    assert key.verifying_key.verify(TEXT.encode(), raw[4:])
    assert open_checkpoint(signed, key.verifying_key) == CHECKPOINT
    assert open_checkpoint(signed.encode(), key.verifying_key) == CHECKPOINT
    assert open_checkpoint(signed, key.verifying_key, origin=CHECKPOINT.origin) == CHECKPOINT


def test_signing_is_deterministic(key: SigningKey, signed: str) -> None:
    assert sign_checkpoint(CHECKPOINT, key).to_text() == signed  # Ed25519 (RFC 8032)


def _with_text(signed: str, text: str) -> str:
    return text + signed[signed.rindex("\n\n") + 1 :]


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
def test_a_tampered_checkpoint_is_refused(
    key: SigningKey, signed: str, tamper: Callable[[Checkpoint], Checkpoint]
) -> None:
    with pytest.raises(IntegrityError):
        open_checkpoint(_with_text(signed, tamper(CHECKPOINT).to_text()), key.verifying_key)


def test_no_single_bit_flip_of_the_note_opens(key: SigningKey, signed: str) -> None:
    data = signed.encode()
    for position in range(len(data)):
        for bit in range(8):
            tampered = bytearray(data)
            tampered[position] ^= 1 << bit
            with pytest.raises((IntegrityError, UsageError)):
                open_checkpoint(bytes(tampered), key.verifying_key)


def test_a_tampered_signature_is_refused(key: SigningKey, signed: str) -> None:
    note = SignedNote.parse(signed)
    (line,) = note.signatures
    for position in range(len(line.signature)):
        tampered = bytearray(line.signature)
        tampered[position] ^= 0x01
        bad = dataclasses.replace(line, signature=bytes(tampered))
        with pytest.raises(IntegrityError, match="does not verify"):
            open_checkpoint(SignedNote(note.text, (bad,)), key.verifying_key)
    for wrong in (line.signature[:-1], line.signature + b"\x00", bytes(64)):
        bad = dataclasses.replace(line, signature=wrong)
        with pytest.raises(IntegrityError, match="does not verify"):
            open_checkpoint(SignedNote(note.text, (bad,)), key.verifying_key)


def test_another_key_is_refused(signed: str) -> None:
    with pytest.raises(IntegrityError, match=r"no signature by key example\.com/lineage"):
        open_checkpoint(signed, SigningKey.generate().verifying_key)


def test_another_log_is_refused(key: SigningKey, signed: str) -> None:
    with pytest.raises(
        IntegrityError, match=r"is of log 'example\.com/lineage', not 'other\.org/x'"
    ):
        open_checkpoint(signed, key.verifying_key, origin="other.org/x")


def test_a_signed_but_non_canonical_text_is_refused(key: SigningKey) -> None:
    text = TEXT.replace("\n8\n", "\n08\n")
    note = sign_note(text, CHECKPOINT.origin, key)
    with pytest.raises(UsageError, match="not a decimal number without leading zeros"):
        open_checkpoint(note, key.verifying_key)


def test_signatures_by_other_keys_are_ignored(key: SigningKey, signed: str) -> None:
    witness = sign_note(TEXT, "witness.example/w1", SigningKey.generate())
    both = _with_text(signed, TEXT).rstrip("\n") + "\n" + witness.signatures[0].to_line()
    assert open_checkpoint(both, key.verifying_key) == CHECKPOINT
