"""Ed25519 keys, and signing and opening C2SP signed notes with them.

Keys are stored as PEM: PKCS #8 for the private key (optionally encrypted with a password,
written with mode 0600), SubjectPublicKeyInfo for the public key.  A key signs under a *key
name* (a log's origin, e.g. ``example.com/lineage``); name and key together give the 4-byte key
ID of :mod:`threadline.integrity.note`, which says which key signed once keys have rotated, and
the C2SP verifier key string (:meth:`VerifyingKey.vkey`) that other note tooling reads.

:func:`sign_note` signs a text; :func:`open_note` returns a note's text only once a signature by
the trusted key verified, as the signed-note spec requires: signatures by other keys are
ignored, and one by the trusted key that fails rejects the note.  Signed Merkle checkpoints are
built on these in :mod:`threadline.integrity.checkpoint`.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from threadline.errors import IntegrityError, UsageError
from threadline.integrity import note
from threadline.integrity.note import NoteSignature, SignedNote

SIGNATURE_SIZE: Final = 64
PUBLIC_KEY_SIZE: Final = 32


class VerifyingKey:
    """An Ed25519 public key that checks note signatures."""

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

    def key_id(self, name: str) -> bytes:
        """The C2SP key ID of this key under key name ``name``:
        ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ raw)[:4]``."""
        return note.key_id(note.check_key_name(name), note.ED25519, self.raw)

    def vkey(self, name: str) -> str:
        """The C2SP verifier key: ``<name>+<hex key ID>+<base64(0x01 ‖ raw)>``, the one-line
        form note tooling (e.g. Go's ``golang.org/x/mod/sumdb/note``) is configured with."""
        encoded = base64.b64encode(bytes([note.ED25519]) + self.raw).decode("ascii")
        return f"{name}+{self.key_id(name).hex()}+{encoded}"

    @classmethod
    def from_vkey(cls, vkey: str) -> tuple[str, VerifyingKey]:
        """The key name and key of a C2SP verifier key string (see :meth:`vkey`)."""
        name, _, rest = vkey.partition("+")
        hex_id, _, encoded = rest.partition("+")
        try:
            raw = base64.b64decode(encoded, validate=True)
            expected = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raw, expected = b"", b""
        if not raw or raw[0] != note.ED25519 or len(expected) != note.KEY_ID_SIZE:
            raise UsageError(
                f"{vkey!r} is not an Ed25519 verifier key ('<name>+<8 hex digits>+<base64>')"
            )
        key = cls.from_raw(raw[1:])
        if key.key_id(name) != expected:
            raise UsageError(f"verifier key {vkey!r}: its key ID does not match its name and key")
        return name, key

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
        return f"VerifyingKey({base64.b64encode(self.raw).decode('ascii')!r})"


class SigningKey:
    """An Ed25519 private key that signs notes."""

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
        # Never the private key: the public half tells which key this is.
        return f"SigningKey(public={self.verifying_key!r})"


def sign_note(text: str, name: str, key: SigningKey) -> SignedNote:
    """``text`` signed by ``key`` under key name ``name``, as a one-signature note."""
    signature = key.sign(note.check_text(text).encode("utf-8"))
    return SignedNote(text, (NoteSignature(name, key.verifying_key.key_id(name), signature),))


def open_note(signed: str | bytes | SignedNote, name: str, key: VerifyingKey) -> str:
    """The text of ``signed`` once its signature by ``key`` under ``name`` verified.

    Raises :class:`~threadline.errors.UsageError` for a note that does not parse, and
    :class:`~threadline.errors.IntegrityError` when the note carries no signature by this key
    or one that fails (the text was altered, or another key signed it).
    """
    parsed = signed if isinstance(signed, SignedNote) else SignedNote.parse(signed)
    expected = key.key_id(name)
    mine = [s for s in parsed.signatures if s.name == name and s.key_id == expected]
    if not mine:
        raise IntegrityError(
            f"the note carries no signature by key {name} (key ID {expected.hex()}); "
            "was it signed with another key?",
            detail={"name": name, "key_id": expected.hex()},
        )
    message = parsed.text.encode("utf-8")
    if not all(key.verify(message, s.signature) for s in mine):
        raise IntegrityError(
            f"the note's signature by key {name} does not verify: its text was altered",
            detail={"name": name, "key_id": expected.hex()},
        )
    return parsed.text


def public_key_for(
    public: str | os.PathLike[str] | None, private: str | os.PathLike[str] | None
) -> VerifyingKey:
    """The key that checks signatures: the public key file ``public`` when given, else the
    public half of the private key file ``private`` (its ``.pub`` beside it when there)."""
    if public is not None:
        return VerifyingKey.load(public)
    if private is None:
        raise UsageError("no public key: pass --key PUBKEY or set checkpoint_key")
    beside = Path(os.fspath(private) + ".pub")
    if beside.is_file():
        return VerifyingKey.load(beside)
    return SigningKey.load(private).verifying_key


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
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "SigningKey",
    "VerifyingKey",
    "open_note",
    "public_key_for",
    "sign_note",
]
