"""Time-ordered run ids (UUIDv7, RFC 9562) from built-in modules only.

Every captured process names its script run before it has imported anything else
(:mod:`threadline.capture.bootstrap`), so this module loads nothing beyond what the interpreter
has at start: no ``uuid``, ``secrets`` (hmac, hashlib, base64) or ``threading``.
"""

from __future__ import annotations

import _thread
import os
import time

_lock = _thread.allocate_lock()
_last = 0


def uuid7_value() -> int:
    """A UUIDv7 as an integer, monotonic within the process."""
    global _last
    with _lock:
        ms = time.time_ns() // 1_000_000
        # Monotonic: within one millisecond the 12-bit rand_a becomes a counter.
        candidate = (ms << 12) | _random_bits(12)
        if candidate <= _last:
            candidate = _last + 1
        _last = candidate
    ms, counter = candidate >> 12, candidate & 0xFFF
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= _random_bits(62)
    return value


def uuid7_text() -> str:
    """A UUIDv7 as its canonical text (``8-4-4-4-12`` hex digits), without the ``uuid``
    module."""
    digits = f"{uuid7_value():032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _random_bits(bits: int) -> int:
    # secrets.randbits without the secrets module: the same operating system source.
    return int.from_bytes(os.urandom((bits + 7) // 8), "big") >> (-bits % 8)


__all__ = ["uuid7_text", "uuid7_value"]
