"""Fingerprints of numpy arrays, masked arrays and scalars.

The little-endian dtype string and the shape, then the C-order bytes: big-endian data is
converted, and every NaN becomes the same quiet NaN, because the sign and payload a NaN gets
depend on the CPU.  ``long double`` gives ``None``, its layout being platform-specific.
Structured dtypes hash field by field, so padding bytes (which hold garbage) never reach the
hash.  Object and ``StringDType`` arrays holding only ``str`` hash the values joined by NUL
(checked absent from every value); other object arrays hash each element's canonical encoding
(:mod:`threadline.fingerprint.encoding`) and give ``None`` when an element has none.  ``repr``
is never used because default reprs contain ``id()``.

numpy is imported inside the functions: they only run on a numpy object, so it is loaded already,
and importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from threadline.fingerprint.encoding import MAX_DEPTH, Unsupported, encode
from threadline.fingerprint.hashing import (
    CTX_MASKED,
    CTX_NDARRAY,
    CTX_TEXT,
    READ_CHUNK,
    new_hasher,
    u64,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["canonical_nans", "ndarray_digest", "numpy_digest"]

# Bound on the temporary copy when an array must be made C-contiguous or little-endian.
_BLOCK_BYTES: Final = 16 << 20
# Values per str.join call when hashing an array of str (bounds the temporary joined text).
_TEXT_BLOCK: Final = 1 << 20


def numpy_digest(obj: object, depth: int) -> bytes | None:
    import numpy as np

    if isinstance(obj, np.ma.MaskedArray):
        # Values under the mask are arbitrary; hash the filled data and the mask instead.
        data = ndarray_digest(obj.filled(), depth + 1)
        mask = ndarray_digest(np.ma.getmaskarray(obj), depth + 1)
        if data is None or mask is None:
            return None
        masked = new_hasher(CTX_MASKED)
        masked.update(data + mask)
        return masked.digest()
    if isinstance(obj, np.ndarray):
        return ndarray_digest(obj, depth)
    if isinstance(obj, np.generic):
        return ndarray_digest(np.asarray(obj), depth)
    return None


def _dtype_description(dtype: np.dtype[Any]) -> object:
    if dtype.names is not None:
        return ["struct", [[name, _dtype_description(dtype[name])] for name in dtype.names]]
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        return ["subarray", _dtype_description(base), list(shape)]
    if dtype.kind == "T":
        return "StringDType"
    text = dtype.str
    return "<" + text[1:] if text.startswith(">") else text


def ndarray_digest(array: npt.NDArray[Any], depth: int) -> bytes | None:
    import numpy as np

    if depth > MAX_DEPTH:
        return None
    # Subclasses (matrix, memmap) reshape differently; their content is the base array's.
    array = np.asarray(array)
    dtype = array.dtype
    hasher = new_hasher(CTX_NDARRAY, size_hint=array.nbytes)
    header = bytearray()
    encode(header, [_dtype_description(dtype), list(array.shape)], 0)
    hasher.update(header)
    if dtype.names is not None:
        # Field by field: the padding between fields is uninitialized memory.
        for name in dtype.names:
            field = ndarray_digest(array[name], depth + 1)
            if field is None:
                return None
            hasher.update(field)
    elif dtype.kind in "fc" and dtype.itemsize > (8 if dtype.kind == "f" else 16):
        # long double: its size and padding bytes differ between platforms.
        return None
    elif dtype.kind in "OT" and (text := _joined_text_digest(array)) is not None:
        hasher.update(b"T" + text)
    elif dtype.kind in "OT":
        hasher.update(b"E")
        buffer = bytearray()
        try:
            for item in array.ravel(order="C").tolist():
                encode(buffer, item, depth + 1)
                if len(buffer) >= READ_CHUNK:
                    hasher.update(buffer)
                    buffer.clear()
        except Unsupported:
            return None
        hasher.update(buffer)
    else:
        for block in _little_endian_blocks(array):
            hasher.update(block)
    return hasher.digest()


def _joined_text_digest(array: npt.NDArray[Any]) -> bytes | None:
    """Digest of an array holding only ``str`` values, or ``None`` if it holds anything else.

    The values are joined with NUL and encoded as UTF-8.  With the count hashed first and NUL
    checked to occur inside no value, the joined text splits back into exactly one list of
    values.  ``str.join`` and ``str.count`` run in C without a Python call per value, which
    makes this about twelve times faster than encoding each value (measured on 1M short str).
    """
    flat = array.ravel(order="C")
    hasher = new_hasher(CTX_TEXT, size_hint=8 * flat.size)
    hasher.update(u64(flat.size))
    for start in range(0, flat.size, _TEXT_BLOCK):
        items = flat[start : start + _TEXT_BLOCK].tolist()
        try:
            joined = "\0".join(items)
        except TypeError:
            return None
        if joined.count("\0") != len(items) - 1:
            return None
        if start:
            hasher.update(b"\0")
        hasher.update(joined.encode("utf-8", "surrogatepass"))
    return hasher.digest()


def _little_endian_blocks(array: npt.NDArray[Any]) -> Iterator[npt.NDArray[np.uint8]]:
    """The array's bytes in C order, little-endian, NaNs canonical, in blocks of bounded size."""
    import numpy as np

    swap = array.dtype.str.startswith(">")
    target = array.dtype.newbyteorder("<") if swap else array.dtype
    blocks: Iterator[npt.NDArray[Any]]
    if array.flags.c_contiguous:
        flat = array.reshape(-1)
        step = max(1, _BLOCK_BYTES // max(1, array.itemsize))
        blocks = (flat[start : start + step] for start in range(0, flat.size, step))
    else:
        rows = max(1, _BLOCK_BYTES // max(1, array[0].nbytes)) if array.shape[0] else 1
        blocks = (
            np.ascontiguousarray(array[start : start + rows]).reshape(-1)
            for start in range(0, array.shape[0], rows)
        )
    for block in blocks:
        if swap:
            block = block.astype(target)
        if block.dtype.kind in "fc":
            block = canonical_nans(block)
        yield block.view(np.uint8)


def canonical_nans(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``values`` with every NaN replaced by the one quiet NaN ``np.nan`` converts to.

    The sign and payload of a NaN depend on the CPU that computed it (x86 makes 0/0 a negative
    NaN, ARM a positive one), so hashing them raw would make equal data differ between hosts.
    """
    import numpy as np

    floats = values
    if values.dtype.kind == "c":
        floats = values.view(values.dtype.str[0] + "f" + str(values.dtype.itemsize // 2))
    missing = np.isnan(floats)
    if not missing.any():
        return values
    fixed = floats.copy()
    fixed[missing] = np.nan
    return fixed.view(values.dtype)
