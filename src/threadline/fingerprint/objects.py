"""The fingerprint of in-memory data: which kind of object is which, and its digest.

Dispatch is on module names, so no data library is imported here: if an object of theirs exists,
the library is already loaded.  Importing this module installs :func:`object_digest` as the
fallback of the canonical encoding (:func:`threadline.fingerprint.encoding.set_object_digest`).
"""

from __future__ import annotations

from threadline.fingerprint.arrays import numpy_digest
from threadline.fingerprint.arrow import arrow_digest
from threadline.fingerprint.encoding import MAX_DEPTH, set_object_digest
from threadline.fingerprint.estimators import estimator_digest, is_estimator
from threadline.fingerprint.files import fingerprint_bytes
from threadline.fingerprint.frames import pandas_digest, polars_digest
from threadline.model.ids import content_version

__all__ = ["fingerprint_object", "object_digest"]


def fingerprint_object(obj: object) -> str | None:
    """The content fingerprint of in-memory data, or ``None`` for an unsupported type.

    Supported: ``bytes``-like objects (equal to :func:`fingerprint_bytes`), numpy arrays and
    scalars, pandas ``DataFrame``/``Series``/``Index``, polars ``DataFrame``/``Series``, pyarrow
    ``Table``/``RecordBatch``/``ChunkedArray``/``Array`` and sklearn-style estimators.
    """
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return fingerprint_bytes(obj)
    digest = object_digest(obj, 0)
    return None if digest is None else content_version(digest.hex())


def object_digest(obj: object, depth: int) -> bytes | None:
    if depth > MAX_DEPTH:
        return None
    # Dispatch on module names so that no data library is imported here: if an object of
    # theirs exists, the library is already loaded and the import below is a dict lookup.
    for cls in type(obj).__mro__:
        top = cls.__module__.partition(".")[0]
        if top == "numpy":
            return numpy_digest(obj, depth)
        if top == "pandas":
            return pandas_digest(obj, depth)
        if top == "pyarrow":
            return arrow_digest(obj, depth)
        if top == "polars":
            return polars_digest(obj, depth)
    if is_estimator(obj):
        return estimator_digest(obj, depth)
    return None


set_object_digest(object_digest)
