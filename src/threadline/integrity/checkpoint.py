"""Merkle checkpoints of the log, and signing them as C2SP signed notes.

A checkpoint commits to the whole log at one size: the log's origin, the tree size, the Merkle
root (:mod:`threadline.integrity.merkle`) and when it was taken.  Its text is the C2SP
``tlog-checkpoint`` body (https://c2sp.org/tlog-checkpoint), with the timestamp as one
extension line::

    threadline.example.com/lineage
    1048576
    <base64 of the root hash>
    timestamp_ms 1732500000000

Signed, it is a C2SP signed note (:mod:`threadline.integrity.note`): that text, a blank line,
and an Ed25519 signature line whose key name is the origin, as ``tlog-checkpoint`` asks::

    — threadline.example.com/lineage <base64(key ID ‖ signature)>

so any note tooling holding the public key can check it.  :meth:`Checkpoint.parse` accepts only
the form :meth:`Checkpoint.to_text` writes (no leading zeros, canonical base64, ``\\n``
endings), so each checkpoint has one text and one set of signed bytes.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from threadline.errors import IntegrityError, UsageError
from threadline.integrity.note import SignedNote
from threadline.integrity.signing import SigningKey, VerifyingKey, open_note, sign_note

TIMESTAMP_PREFIX: Final = "timestamp_ms "

_UINT: Final = re.compile(r"0|[1-9][0-9]*")
_MAX_SIZE: Final = 2**64  # C2SP tree sizes are uint64
_MAX_TIMESTAMP: Final = 2**63


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The state of one log at one size, as it is signed."""

    origin: str
    """Names the log, as a schema-less URL without spaces or ``+``; e.g. ``"example.com/lineage"``."""
    size: int
    """How many records the tree covers (records ``0..size-1``); e.g. ``1048576``."""
    root: bytes
    """The Merkle root of those records; e.g. 32 bytes of BLAKE3."""
    timestamp_ms: int
    """When the checkpoint was taken, in Unix milliseconds (UTC); e.g. ``1732500000000``."""

    def __post_init__(self) -> None:
        # The origin is a line of the signed text, so it must not be able to add lines; C2SP
        # also keeps spaces and "+" out of it because note signature lines split on them.
        if (
            not self.origin
            or not self.origin.isprintable()
            or any(char.isspace() or char == "+" for char in self.origin)
        ):
            raise UsageError(
                f"checkpoint origin {self.origin!r} must be non-empty, printable, "
                "and free of spaces and '+' (e.g. 'example.com/lineage')",
                detail={"origin": self.origin},
            )
        if not 0 <= self.size < _MAX_SIZE:
            raise UsageError(
                f"checkpoint tree size {self.size} must be in 0..2**64-1",
                detail={"size": self.size},
            )
        if not self.root:
            raise UsageError("checkpoint root hash is empty")
        if not 0 <= self.timestamp_ms < _MAX_TIMESTAMP:
            raise UsageError(
                f"checkpoint timestamp {self.timestamp_ms} must be Unix milliseconds in 0..2**63-1",
                detail={"timestamp_ms": self.timestamp_ms},
            )

    def to_text(self) -> str:
        """The canonical text that is signed."""
        root = base64.b64encode(self.root).decode("ascii")
        return f"{self.origin}\n{self.size}\n{root}\n{TIMESTAMP_PREFIX}{self.timestamp_ms}\n"

    @classmethod
    def parse(cls, text: str | bytes) -> Checkpoint:
        """Read the canonical text back; anything else raises :class:`UsageError`."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise UsageError(f"checkpoint text is not UTF-8 ({exc.reason})") from None
        if not text.endswith("\n"):
            raise UsageError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) != 4:
            raise UsageError(
                f"checkpoint text has {len(lines)} lines; it needs 4 "
                "(origin, tree size, base64 root, 'timestamp_ms <n>')"
            )
        origin, size_line, root_line, timestamp_line = lines
        size = _parse_uint(size_line, "tree size")
        try:
            root = base64.b64decode(root_line, validate=True)
        except binascii.Error:
            raise UsageError(
                f"checkpoint root line {root_line!r} is not base64", detail={"line": 3}
            ) from None
        if base64.b64encode(root).decode("ascii") != root_line:
            raise UsageError(
                f"checkpoint root line {root_line!r} is not canonical base64", detail={"line": 3}
            )
        if not timestamp_line.startswith(TIMESTAMP_PREFIX):
            raise UsageError(
                f"checkpoint line 4 must be '{TIMESTAMP_PREFIX}<n>', not {timestamp_line!r}",
                detail={"line": 4},
            )
        timestamp_ms = _parse_uint(timestamp_line.removeprefix(TIMESTAMP_PREFIX), "timestamp")
        return cls(origin, size, root, timestamp_ms)


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey) -> SignedNote:
    """The checkpoint as a note signed by ``key`` under its origin; write it with
    :meth:`~threadline.integrity.note.SignedNote.to_text`."""
    return sign_note(checkpoint.to_text(), checkpoint.origin, key)


def open_checkpoint(
    signed: str | bytes | SignedNote, key: VerifyingKey, *, origin: str | None = None
) -> Checkpoint:
    """The checkpoint in a signed note, once its signature by ``key`` verified.

    The key name is the checkpoint's origin; pass ``origin`` to also require that it is the
    log you expect.  Raises :class:`~threadline.errors.IntegrityError` when the signature is
    missing or fails, or the origin is another; :class:`~threadline.errors.UsageError` when the
    note or its checkpoint text is malformed.
    """
    parsed = signed if isinstance(signed, SignedNote) else SignedNote.parse(signed)
    claimed = parsed.text.split("\n", 1)[0]
    if origin is not None and claimed != origin:
        raise IntegrityError(
            f"the checkpoint is of log {claimed!r}, not {origin!r}",
            detail={"origin": claimed, "expected": origin},
        )
    return Checkpoint.parse(open_note(parsed, claimed, key))


def _parse_uint(text: str, name: str) -> int:
    # A regex rather than int(): int() also accepts "+1", " 1", "1_0" and non-ASCII digits,
    # each a second text for the same checkpoint.
    if not _UINT.fullmatch(text):
        raise UsageError(
            f"checkpoint {name} {text!r} is not a decimal number without leading zeros",
            detail={"field": name},
        )
    return int(text)


__all__ = [
    "TIMESTAMP_PREFIX",
    "Checkpoint",
    "open_checkpoint",
    "sign_checkpoint",
]
