"""Fingerprints of estimators: anything whose class has ``get_params`` and ``fit``.

The class module and qualname, ``get_params(deep=False)`` with nested estimators fingerprinted
recursively, and the learned attributes (public instance attributes ending in ``_``).  A value
with no canonical encoding is replaced by a marker naming its type, so it is skipped the same way
on every machine.
"""

from __future__ import annotations

from typing import Any

from threadline.fingerprint.encoding import Unsupported, encode, encode_str, encoded, type_name
from threadline.fingerprint.hashing import CTX_ESTIMATOR, new_hasher, u64

__all__ = ["estimator_digest", "is_estimator"]


def is_estimator(obj: object) -> bool:
    """Whether ``obj``'s class has callable ``get_params`` and ``fit``."""
    kind = type(obj)
    return callable(getattr(kind, "get_params", None)) and callable(getattr(kind, "fit", None))


def estimator_digest(estimator: Any, depth: int) -> bytes:
    hasher = new_hasher(CTX_ESTIMATOR)
    out = bytearray()
    kind = type(estimator)
    encode(out, [kind.__module__, kind.__qualname__], 0)
    params: dict[str, object] = dict(estimator.get_params(deep=False))
    out += u64(len(params))
    for name in sorted(params):
        _encode_member(out, name, params[name], depth)
    try:
        attributes = vars(estimator)
    except TypeError:
        attributes = {}
    learned = sorted(name for name in attributes if name.endswith("_") and not name.startswith("_"))
    out += u64(len(learned))
    for name in learned:
        _encode_member(out, name, attributes[name], depth)
    hasher.update(out)
    return hasher.digest()


def _encode_member(out: bytearray, name: str, value: object, depth: int) -> None:
    encode_str(out, name)
    try:
        member = encoded(value, depth + 1)
    except Unsupported:
        # Skipped deterministically: the marker names the type but not the value.
        out += b"?"
        encode_str(out, type_name(value))
    else:
        out += member
