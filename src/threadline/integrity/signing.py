"""Ed25519 keys and signed Merkle checkpoints.

A checkpoint commits to the whole log at one size: the log's origin, the tree size, the Merkle
root (:mod:`threadline.integrity.merkle`) and when it was taken.  Its text form follows the
C2SP ``tlog-checkpoint`` body, with the timestamp as one extension line::

    threadline.example.com/lineage
    1048576
    <base64 of the root hash>
    timestamp_ms 1732500000000

The signature is a raw 64-byte Ed25519 signature over exactly those UTF-8 bytes, as in a C2SP
signed note, so other note tooling can check it.  :meth:`Checkpoint.parse` accepts only the
form :meth:`Checkpoint.to_text` writes (no leading zeros, canonical base64, ``\\n`` endings), so
each checkpoint has one text and one set of signed bytes.

Keys are stored as PEM: PKCS #8 for the private key (optionally encrypted with a password,
written with mode 0600), SubjectPublicKeyInfo for the public key.  A key id, the first four bytes
of the BLAKE3 hash of the raw 32-byte public key, says which key signed a checkpoint once keys
have been rotated.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import blake3
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from threadline.errors import UsageError

KEY_ID_SIZE: Final = 4
SIGNATURE_SIZE: Final = 64
PUBLIC_KEY_SIZE: Final = 32
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


class VerifyingKey:
    """An Ed25519 public key that checks checkpoint signatures."""

    __slots__ = ("_key",)

    def __init__(self, key: Ed25519PublicKey) -> None:
        self._key = key

    @classmethod
    def from_raw(cls, data: bytes) -> VerifyingKey:
        """The key from its raw 32 bytes (RFC 8032 encoding)."""
        if len(data) != PUBLIC_KEY_SIZE:
            raise UsageError(
                f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes, not {len(data)}",
                detail={"length": len(data)},
            )
        try:
            return cls(Ed25519PublicKey.from_public_bytes(data))
        except ValueError:
            raise UsageError("those 32 bytes are not a valid Ed25519 public key") from None

    @classmethod
    def from_pem(cls, data: bytes, *, source: str = "the PEM data") -> VerifyingKey:
        """The key from a SubjectPublicKeyInfo PEM block; ``source`` names it in errors."""
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm):
            raise UsageError(
                f"{source} is not a PEM public key ('-----BEGIN PUBLIC KEY-----')",
                detail={"source": source},
            ) from None
        if not isinstance(key, Ed25519PublicKey):
            raise UsageError(
                f"{source} holds a public key of type {_key_kind(key)}; "
                "threadline checkpoints use Ed25519 keys",
                detail={"source": source},
            )
        return cls(key)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> VerifyingKey:
        """Read a public key PEM file."""
        return cls.from_pem(_read_key_file(path, "public key"), source=f"public key file {path}")

    @property
    def raw(self) -> bytes:
        """The raw 32-byte public key."""
        return self._key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> bytes:
        """Four bytes naming this key: the start of the BLAKE3 hash of :attr:`raw`."""
        return blake3.blake3(self.raw).digest()[:KEY_ID_SIZE]

    def to_pem(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write :meth:`to_pem` to ``path`` (mode 0644); an existing file is kept unless
        ``overwrite``."""
        _write_key_file(Path(path), self.to_pem(), 0o644, overwrite=overwrite, kind="public key")

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyingKey):
            return NotImplemented
        return self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"VerifyingKey(key_id={self.key_id.hex()!r})"


class SigningKey:
    """An Ed25519 private key that signs checkpoints."""

    __slots__ = ("_key",)

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> SigningKey:
        """A new random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(
        cls, data: bytes, *, password: bytes | None = None, source: str = "the PEM data"
    ) -> SigningKey:
        """The key from a PKCS #8 PEM block; ``source`` names it in errors."""
        try:
            key = serialization.load_pem_private_key(data, password=password)
        except TypeError:
            # cryptography raises TypeError exactly when the password presence does not match
            # whether the key is encrypted.
            advice = "pass its password" if password is None else "do not pass a password"
            state = "encrypted" if password is None else "not encrypted"
            raise UsageError(f"{source} is {state}; {advice}", detail={"source": source}) from None
        except (ValueError, UnsupportedAlgorithm):
            if b"-----BEGIN PUBLIC KEY-----" in data:
                raise UsageError(
                    f"{source} holds a public key; signing needs the private key",
                    detail={"source": source},
                ) from None
            reason = " or the password is wrong" if password is not None else ""
            raise UsageError(
                f"{source} is not a PEM private key ('-----BEGIN PRIVATE KEY-----'){reason}",
                detail={"source": source},
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise UsageError(
                f"{source} holds a private key of type {_key_kind(key)}; "
                "threadline signs checkpoints with Ed25519 keys only",
                detail={"source": source},
            )
        return cls(key)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, password: bytes | None = None) -> SigningKey:
        """Read a private key PEM file."""
        return cls.from_pem(
            _read_key_file(path, "signing key"),
            password=password,
            source=f"signing key file {path}",
        )

    @property
    def verifying_key(self) -> VerifyingKey:
        return VerifyingKey(self._key.public_key())

    def to_pem(self, *, password: bytes | None = None) -> bytes:
        """PKCS #8 PEM, encrypted with the best scheme available when ``password`` is given."""
        if password is not None and not password:
            raise UsageError("an empty password would not protect the key; pass None instead")
        encryption: serialization.KeySerializationEncryption = (
            serialization.NoEncryption()
            if password is None
            else serialization.BestAvailableEncryption(password)
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        password: bytes | None = None,
        overwrite: bool = False,
    ) -> None:
        """Write :meth:`to_pem` to ``path`` readable by its owner only (mode 0600).

        An existing file is kept unless ``overwrite``: replacing a signing key by mistake would
        orphan every checkpoint it signed.
        """
        _write_key_file(
            Path(path),
            self.to_pem(password=password),
            0o600,
            overwrite=overwrite,
            kind="signing key",
        )

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.verifying_key.key_id.hex()!r})"


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey) -> bytes:
    """The signature of the checkpoint's canonical text."""
    return key.sign(checkpoint.to_text().encode("utf-8"))


def verify_checkpoint(
    checkpoint_text: str | bytes, signature: bytes, public_key: VerifyingKey
) -> bool:
    """Whether ``checkpoint_text`` is a canonical checkpoint signed by ``public_key``.

    Read the verified values with :meth:`Checkpoint.parse`.
    """
    try:
        Checkpoint.parse(checkpoint_text)
    except UsageError:
        return False
    data = checkpoint_text.encode("utf-8") if isinstance(checkpoint_text, str) else checkpoint_text
    return public_key.verify(data, signature)


def _parse_uint(text: str, name: str) -> int:
    # A regex rather than int(): int() also accepts "+1", " 1", "1_0" and non-ASCII digits,
    # each a second text for the same checkpoint.
    if not _UINT.fullmatch(text):
        raise UsageError(
            f"checkpoint {name} {text!r} is not a decimal number without leading zeros",
            detail={"field": name},
        )
    return int(text)


def _key_kind(key: object) -> str:
    return type(key).__name__.removeprefix("_").replace("PrivateKey", "").replace("PublicKey", "")


def _read_key_file(path: str | os.PathLike[str], kind: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{kind} file {path} does not exist", detail={"path": str(path)}) from None
    except OSError as exc:
        raise UsageError(
            f"cannot read {kind} file {path}: {exc.strerror}", detail={"path": str(path)}
        ) from None


def _write_key_file(path: Path, data: bytes, mode: int, *, overwrite: bool, kind: str) -> None:
    try:
        if overwrite:
            # Write beside the target and rename, so a crash never leaves a half-written key
            # where the old one was.  mkstemp creates the file 0600 before any byte is written.
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
            try:
                _write_all(fd, data, mode)
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
        else:
            # O_EXCL makes "refuse to overwrite" atomic, and the mode applies from creation, so
            # a private key is never readable by others, even for an instant.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            try:
                _write_all(fd, data, mode)
            except BaseException:
                os.unlink(path)
                raise
    except FileExistsError:
        raise UsageError(
            f"{kind} file {path} already exists; pass overwrite=True to replace it",
            detail={"path": str(path)},
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot write {kind} file {path}: {exc.strerror}", detail={"path": str(path)}
        ) from None


def _write_all(fd: int, data: bytes, mode: int) -> None:
    with os.fdopen(fd, "wb") as file:
        # os.open applies the umask, which may only remove bits, and mkstemp always uses 0600;
        # set the mode explicitly so the file ends up exactly as documented.
        os.fchmod(file.fileno(), mode)
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


__all__ = [
    "KEY_ID_SIZE",
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "TIMESTAMP_PREFIX",
    "Checkpoint",
    "SigningKey",
    "VerifyingKey",
    "sign_checkpoint",
    "verify_checkpoint",
]
