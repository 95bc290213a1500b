"""BLAKE3 content fingerprints for files, directories and in-memory data.

Every fingerprint prints as ``b3:<64 hex chars>`` (:func:`threadline.model.ids.content_version`),
and the same content gives the same fingerprint in every process and on every host: nothing
relies on ``hash()``, ``id()``, pickling or dict order.

One module per concept:

- :mod:`~threadline.fingerprint.hashing`: the BLAKE3 hashers, and the domain (key-derivation
  context) that keeps each kind of content apart from files and from every other kind.
- :mod:`~threadline.fingerprint.files`: bytes, files (what ``b3sum`` prints) and directory trees
  (a Merkle tree in the style of a git tree).
- :mod:`~threadline.fingerprint.cache`: the file cache (in memory, optionally in a SQLite file
  shared between processes) with its racy-timestamp rule and its handling of ``fork``.
- :mod:`~threadline.fingerprint.encoding`: the canonical encoding of plain values.
- :mod:`~threadline.fingerprint.arrays`, :mod:`~threadline.fingerprint.arrow`,
  :mod:`~threadline.fingerprint.frames`, :mod:`~threadline.fingerprint.estimators`: numpy
  arrays; Arrow arrays and tables; pandas and polars data; estimators.
- :mod:`~threadline.fingerprint.objects`: which in-memory object is which kind.

Import cost: the capture child imports this package, so it stays cheap.  numpy, pandas, pyarrow
and polars are imported only when an object of theirs is fingerprinted (it is then already
loaded), and the modules for in-memory data load on the first use of :func:`fingerprint_object`
(PEP 562), so fingerprinting paths loads only ``hashing``, ``cache`` and ``files``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadline.fingerprint.cache import (
    DEFAULT,
    CacheStats,
    FingerprintCache,
    default_cache,
    set_default_cache,
)
from threadline.fingerprint.files import (
    fingerprint_bytes,
    fingerprint_directory,
    fingerprint_file,
    fingerprint_path,
)

if TYPE_CHECKING:
    from threadline.fingerprint.objects import fingerprint_object

__all__ = [
    "DEFAULT",
    "CacheStats",
    "FingerprintCache",
    "default_cache",
    "fingerprint_bytes",
    "fingerprint_directory",
    "fingerprint_file",
    "fingerprint_object",
    "fingerprint_path",
    "set_default_cache",
]


def __getattr__(name: str) -> Any:
    if name == "fingerprint_object":
        # Lazy for import speed: six modules that fingerprinting a path never needs.
        from threadline.fingerprint.objects import fingerprint_object

        return fingerprint_object
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
