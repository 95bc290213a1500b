"""Fingerprints of pandas and polars data: frames, series and indexes.

* **pandas** ``DataFrame``/``Series``/``Index``: shape, column labels, the index (a
  ``RangeIndex`` hashes like the equal ``int64`` index), then each column's pandas dtype and
  values.  numpy-backed columns hash their bytes; extension and object columns go through Arrow
  (so in an object column ``None`` and ``NaN`` are the same missing value), and object columns
  Arrow cannot type fall back to per-element encoding.  Row order matters.
* **polars**: a ``DataFrame`` is fingerprinted through ``to_arrow()`` and so equals the Arrow
  table it converts to; a ``Series`` adds its name.  ``Object`` columns give ``None``.

The libraries are imported inside the functions: they only run on an object of theirs, so it is
loaded already, and importing this module stays cheap.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any

from threadline.fingerprint.arrays import ndarray_digest
from threadline.fingerprint.arrow import arrow_column_digest, arrow_table_digest, column_chunks
from threadline.fingerprint.encoding import Unsupported, encode, encoded
from threadline.fingerprint.hashing import (
    CTX_PANDAS_FRAME,
    CTX_PANDAS_INDEX,
    CTX_PANDAS_SERIES,
    CTX_PANDAS_VALUES,
    CTX_POLARS_SERIES,
    new_hasher,
)

__all__ = ["pandas_digest", "polars_digest"]


def polars_digest(obj: object, depth: int) -> bytes | None:
    import polars as pl

    if sys.byteorder != "little":
        return None
    if isinstance(obj, pl.DataFrame):
        if any(dtype == pl.Object for dtype in obj.dtypes):
            return None
        return arrow_table_digest(obj.to_arrow(), depth)
    if isinstance(obj, pl.Series):
        if obj.dtype == pl.Object:
            return None
        values = obj.to_arrow()
        column = arrow_column_digest(values.type, column_chunks(values), depth + 1)
        if column is None:
            return None
        hasher = new_hasher(CTX_POLARS_SERIES)
        hasher.update(encoded(obj.name, 0) + column)
        return hasher.digest()
    return None


def pandas_digest(obj: object, depth: int) -> bytes | None:
    # pandas ships no type information (pandas-stubs is optional); reach it as a plain module.
    pd: Any = importlib.import_module("pandas")
    try:
        if isinstance(obj, pd.DataFrame):
            return _pandas_frame_digest(obj, depth)
        if isinstance(obj, pd.Series):
            return _pandas_series_digest(obj, depth)
        if isinstance(obj, pd.Index):
            return _pandas_index_digest(obj, depth)
    except Unsupported:
        # A column label or a series name with no canonical encoding.
        return None
    return None


def _pandas_frame_digest(frame: Any, depth: int) -> bytes | None:
    hasher = new_hasher(CTX_PANDAS_FRAME)
    header = bytearray()
    # Labels are hashed as values, not as an Index: the columns Index's dtype (object or str)
    # depends on how the frame was built, not on its content.
    encode(
        header, [list(frame.shape), frame.columns.tolist(), list(frame.columns.names)], depth + 1
    )
    hasher.update(header)
    index = _pandas_index_digest(frame.index, depth + 1)
    if index is None:
        return None
    hasher.update(index)
    for _, column in frame.items():
        values = _pandas_values_digest(column, depth + 1)
        if values is None:
            return None
        hasher.update(values)
    return hasher.digest()


def _pandas_series_digest(series: Any, depth: int) -> bytes | None:
    hasher = new_hasher(CTX_PANDAS_SERIES)
    header = bytearray()
    encode(header, [series.name, len(series)], depth + 1)
    hasher.update(header)
    for digest in (
        _pandas_index_digest(series.index, depth + 1),
        _pandas_values_digest(series, depth + 1),
    ):
        if digest is None:
            return None
        hasher.update(digest)
    return hasher.digest()


def _pandas_index_digest(index: Any, depth: int) -> bytes | None:
    pd: Any = importlib.import_module("pandas")
    hasher = new_hasher(CTX_PANDAS_INDEX)
    header = bytearray()
    encode(header, [index.nlevels, len(index), list(index.names)], depth + 1)
    hasher.update(header)
    if isinstance(index, pd.RangeIndex):
        labels = _range_digest(index.start, index.stop, index.step, depth + 1)
        if labels is None:
            return None
        hasher.update(labels)
        return hasher.digest()
    if isinstance(index, pd.MultiIndex):
        levels = [index.get_level_values(level) for level in range(index.nlevels)]
    else:
        levels = [index]
    for level in levels:
        digest = _pandas_values_digest(level, depth + 1)
        if digest is None:
            return None
        hasher.update(digest)
    return hasher.digest()


#: Values digests of the ranges frames were indexed by, most often 0..rows: frames of a
#: loop share their index, which costs an int64 array as long as the frame to digest.
_range_digests: dict[tuple[int, int, int], bytes] = {}


def _range_digest(start: int, stop: int, step: int, depth: int) -> bytes | None:
    """The values digest of the int64 Index holding ``range(start, stop, step)``: a
    RangeIndex and such an Index are the same content."""
    import numpy as np

    key = (start, stop, step)
    digest = _range_digests.get(key)
    if digest is None:
        pd: Any = importlib.import_module("pandas")
        labels = pd.Index(np.arange(start, stop, step, dtype=np.int64))
        digest = _pandas_values_digest(labels, depth)
        if digest is None:
            return None
        if len(_range_digests) >= 64:
            _range_digests.clear()
        _range_digests[key] = digest
    return digest


def _pandas_values_digest(values: Any, depth: int) -> bytes | None:
    """Digest of the dtype and values of a Series or an Index."""
    import numpy as np

    dtype = values.dtype
    hasher = new_hasher(CTX_PANDAS_VALUES)
    header: list[object] = [str(dtype)]
    categories = getattr(dtype, "categories", None)
    if categories is not None:
        # str() of a CategoricalDtype is just "category"; the categories are part of the type.
        header += [categories.tolist(), bool(dtype.ordered)]
    hasher.update(encoded(header, depth + 1))
    digest: bytes | None
    if isinstance(dtype, np.dtype) and dtype.kind not in "OT":
        digest = ndarray_digest(values.to_numpy(copy=False), depth + 1)
    elif isinstance(dtype, np.dtype):
        digest = _pandas_via_arrow(values.to_numpy(copy=False), depth + 1)
    else:
        digest = _pandas_via_arrow(values.array, depth + 1)
    if digest is None:
        return None
    hasher.update(digest)
    return hasher.digest()


def _pandas_via_arrow(values: Any, depth: int) -> bytes | None:
    """Arrow's C++ conversion is ~50x faster than encoding Python objects one by one."""
    import numpy as np

    try:
        pa: Any = importlib.import_module("pyarrow")
    except ImportError:
        pa = None
    if pa is not None and sys.byteorder == "little":
        try:
            with warnings.catch_warnings():
                # Some pyarrow releases convert tz-aware columns through an accessor pandas
                # has deprecated: the digest is the same, and a fingerprint must never print.
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                converted = pa.array(values, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            # Mixed or exotic Python objects Arrow cannot type: encode them one by one below.
            pass
        else:
            return arrow_column_digest(converted.type, column_chunks(converted), depth)
    return ndarray_digest(np.asarray(values, dtype=object), depth)
