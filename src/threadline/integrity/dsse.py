"""DSSE envelopes (https://github.com/secure-systems-lab/dsse, v1.0) signed with Ed25519.

An envelope carries a payload, its type, and signatures over the *pre-authentication
encoding* ``PAE(type, payload) = "DSSEv1" SP len(type) SP type SP len(payload) SP payload``
(lengths in ASCII decimal), so a signature binds the payload to its type::

    {"payload": "<base64>", "payloadType": "application/vnd.in-toto+json",
     "signatures": [{"keyid": "<hex>", "sig": "<base64>"}]}

in-toto attestations travel in these.  The ``keyid`` is the one securesystemslib (and so the
``in-toto`` tools) computes for an Ed25519 key, SHA-256 of the canonical JSON of
``{"keytype": "ed25519", "keyval": {"public": <hex>}, "scheme": "ed25519"}``, so their
verifiers match the signature to the key without configuration.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from threadline.errors import IntegrityError, UsageError
from threadline.integrity.signing import SigningKey, VerifyingKey

IN_TOTO_PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """The bytes DSSE signs: the pre-authentication encoding of ``payload`` and its type."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def key_id(key: VerifyingKey) -> str:
    """The securesystemslib key id of ``key`` (hex SHA-256 of its canonical key JSON)."""
    canonical = json.dumps(
        {"keytype": "ed25519", "keyval": {"public": key.raw.hex()}, "scheme": "ed25519"},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def sign_envelope(
    payload: bytes, key: SigningKey, payload_type: str = IN_TOTO_PAYLOAD_TYPE
) -> dict[str, Any]:
    """``payload`` in a DSSE envelope signed by ``key``."""
    signature = key.sign(pae(payload_type, payload))
    return {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [
            {
                "keyid": key_id(key.verifying_key),
                "sig": base64.b64encode(signature).decode("ascii"),
            }
        ],
    }


def open_envelope(envelope: Mapping[str, Any], key: VerifyingKey) -> tuple[str, bytes]:
    """The payload type and payload of ``envelope`` once a signature by ``key`` verified.

    Raises :class:`UsageError` for a malformed envelope and
    :class:`~threadline.errors.IntegrityError` when no signature by ``key`` verifies.
    """
    try:
        payload_type = envelope["payloadType"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = list(envelope["signatures"])
        if not isinstance(payload_type, str):
            raise TypeError
    except (KeyError, TypeError, binascii.Error):
        raise UsageError(
            "not a DSSE envelope: it needs payloadType, a base64 payload and signatures"
        ) from None
    message = pae(payload_type, payload)
    for signature in signatures:
        try:
            raw = base64.b64decode(signature["sig"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            continue
        if key.verify(message, raw):
            return payload_type, payload
    raise IntegrityError(
        f"no signature of the envelope verifies with key {key_id(key)[:16]}…: it was signed "
        "with another key, or its payload was altered"
    )


__all__ = ["IN_TOTO_PAYLOAD_TYPE", "key_id", "open_envelope", "pae", "sign_envelope"]
