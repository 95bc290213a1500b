"""The C2SP signed-note format (https://c2sp.org/signed-note): text, a blank line, signatures.

::

    <text, one or more lines, ending in a newline>
    <blank line>
    — <key name> <base64(4-byte key ID ‖ signature)>
    — …

The text is what is signed (its final newline included, the blank line not); it is separated
from the signatures by the *last* blank line of the note.  The whole note is UTF-8 without ASCII
control characters other than newline.  A key name is non-empty and has no Unicode spaces and
no ``+``.  The key ID names the key that signed: for Ed25519 it is the first four bytes of
``SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)``.

This module is the format only, with no cryptography: :mod:`threadline.integrity.signing`
signs and verifies notes with Ed25519 keys.  Parsing checks the syntax and nothing else; a
parsed note's text must be ignored until one of its signatures was verified with a trusted key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Final

from threadline.errors import UsageError

#: The signature type byte of Ed25519 signatures.
ED25519: Final = 0x01
KEY_ID_SIZE: Final = 4
#: Starts every signature line: an em dash (U+2014) and a space.
SIGNATURE_PREFIX: Final = "\u2014 "
#: Signatures read from one note, at most: the spec asks verifiers to accept at least 16.
MAX_SIGNATURES: Final = 100


def check_key_name(name: str) -> str:
    """``name`` if it can name a key: non-empty, printable, no Unicode spaces, no ``+``."""
    if not name or not name.isprintable() or any(char.isspace() or char == "+" for char in name):
        raise UsageError(
            f"key name {name!r} must be non-empty, printable, and free of spaces and '+' "
            "(e.g. 'example.com/lineage')",
            detail={"name": name},
        )
    return name


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """The key ID the spec recommends: ``SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]``."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key)
    return digest.digest()[:KEY_ID_SIZE]


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    """The key name; e.g. ``"example.com/lineage"``."""
    key_id: bytes
    """Four bytes naming the key (with :attr:`name`); e.g. ``bytes.fromhex("1f2e3d4c")``."""
    signature: bytes
    """The signature of the note text, by the algorithm the key uses."""

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.key_id) != KEY_ID_SIZE:
            raise UsageError(f"a note key ID is {KEY_ID_SIZE} bytes, not {len(self.key_id)}")
        if not self.signature:
            raise UsageError("a note signature cannot be empty")

    def to_line(self) -> str:
        """The signature line, newline included."""
        encoded = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A note text with its signatures, verified or not."""

    text: str
    """What the signatures cover: one or more lines, each ending in a newline."""
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        check_text(self.text)
        if not self.signatures:
            raise UsageError("a signed note needs at least one signature")

    def to_text(self) -> str:
        """The note as it is written and sent."""
        return self.text + "\n" + "".join(s.to_line() for s in self.signatures)

    @classmethod
    def parse(cls, note: str | bytes) -> SignedNote:
        """Read a note's text and signature lines; malformed notes raise :class:`UsageError`."""
        if isinstance(note, bytes):
            try:
                note = note.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UsageError(f"the note is not UTF-8 ({exc.reason})") from None
        _check_characters(note)
        split = note.rfind("\n\n")
        if split < 0:
            raise UsageError("the note has no blank line between its text and its signatures")
        text, lines = note[: split + 1], note[split + 2 :]
        if not lines:
            raise UsageError("the note has no signature lines after its last blank line")
        if not lines.endswith("\n"):
            raise UsageError("the note's last signature line must end with a newline")
        signatures = tuple(_parse_signature(line) for line in lines[:-1].split("\n"))
        if len(signatures) > MAX_SIGNATURES:
            raise UsageError(f"the note has {len(signatures)} signatures; at most {MAX_SIGNATURES}")
        return cls(text, signatures)


def check_text(text: str) -> str:
    """``text`` if it can be a note's text: lines ending in newlines, no other control
    character.  (Blank lines are allowed: the text ends at the note's *last* blank line.)"""
    _check_characters(text)
    if not text.endswith("\n"):
        raise UsageError("a note text must end with a newline")
    return text


def _check_characters(text: str) -> None:
    for char in text:
        if char < " " and char != "\n":
            raise UsageError(
                f"a note may hold no control character but newline, found {char!r}",
                detail={"character": ord(char)},
            )


def _parse_signature(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise UsageError(f"note signature line {line!r} does not start with '— '")
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space or " " in encoded:
        raise UsageError(f"note signature line {line!r} is not '— <key name> <base64>'")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise UsageError(f"note signature line {line!r} is not base64") from None
    # Canonical only (unused bits zero), so that a note has one text for one signature.
    if base64.b64encode(raw).decode("ascii") != encoded:
        raise UsageError(f"note signature line {line!r} is not canonical base64")
    if len(raw) <= KEY_ID_SIZE:
        raise UsageError(f"note signature line {line!r} holds no signature after its key ID")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


__all__ = [
    "ED25519",
    "KEY_ID_SIZE",
    "MAX_SIGNATURES",
    "SIGNATURE_PREFIX",
    "NoteSignature",
    "SignedNote",
    "check_key_name",
    "check_text",
    "key_id",
]
