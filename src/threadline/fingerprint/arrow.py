"""Fingerprints of Arrow arrays, chunked arrays, tables and record batches.

The normalized type (``string``/``large_string``/``string_view`` are all ``utf8``; list flavours
are all ``list``; nullability and schema metadata are not content), the validity of each value,
and the values with null slots zeroed and NaNs made canonical.  Every buffer is fed to its own
streaming hasher, so the result does not depend on how the data is chunked, without the copy
that ``combine_chunks`` would make.  Copies are made only of dictionary arrays (decoded), of
string chunks holding nulls, and of fixed-width chunks holding nulls or NaNs.  A
``RecordBatch`` and a one-batch ``Table`` are equal.  Arrow buffers are in host order, so a
big-endian host gets ``None`` rather than a digest that differs between hosts.

pyarrow and numpy are imported inside the functions: they only run on Arrow data, so both are
loaded already, and importing this module stays cheap.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from threadline.fingerprint.arrays import canonical_nans
from threadline.fingerprint.encoding import MAX_DEPTH, Unsupported, encode
from threadline.fingerprint.hashing import CTX_ARROW_COLUMN, CTX_ARROW_TABLE, new_hasher

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["arrow_column_digest", "arrow_digest", "arrow_table_digest", "column_chunks"]


def arrow_digest(obj: object, depth: int) -> bytes | None:
    import pyarrow as pa

    if sys.byteorder != "little":
        # Arrow buffers are in host order; rather than a digest that differs between hosts,
        # admit we do not support big-endian hosts for Arrow data.
        return None
    if isinstance(obj, (pa.Table, pa.RecordBatch)):
        return arrow_table_digest(obj, depth)
    if isinstance(obj, pa.ChunkedArray):
        return arrow_column_digest(obj.type, list(obj.chunks), depth)
    if isinstance(obj, pa.Array):
        return arrow_column_digest(obj.type, [obj], depth)
    return None


def column_chunks(column: Any) -> list[Any]:
    import pyarrow as pa

    return list(column.chunks) if isinstance(column, pa.ChunkedArray) else [column]


def arrow_table_digest(table: Any, depth: int) -> bytes | None:
    hasher = new_hasher(CTX_ARROW_TABLE)
    header = bytearray()
    encode(header, [table.num_rows, list(table.schema.names)], 0)
    hasher.update(header)
    for index in range(table.num_columns):
        column = table.column(index)
        digest = arrow_column_digest(column.type, column_chunks(column), depth + 1)
        if digest is None:
            return None
        hasher.update(digest)
    return hasher.digest()


def _arrow_type_description(arrow_type: Any) -> object:
    import pyarrow as pa

    t = pa.types
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_string_view(arrow_type):
        return "utf8"
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type) or t.is_binary_view(arrow_type):
        return "binary"
    if t.is_dictionary(arrow_type):
        return ["dictionary", _arrow_type_description(arrow_type.value_type), arrow_type.ordered]
    if isinstance(arrow_type, pa.ExtensionType):
        return [
            "extension",
            arrow_type.extension_name,
            _arrow_type_description(arrow_type.storage_type),
        ]
    if t.is_map(arrow_type):
        return [
            "map",
            _arrow_type_description(arrow_type.key_type),
            _arrow_type_description(arrow_type.item_type),
        ]
    if _is_variable_list(arrow_type):
        return ["list", _arrow_type_description(arrow_type.value_type)]
    if t.is_fixed_size_list(arrow_type):
        return [
            "fixed_size_list",
            arrow_type.list_size,
            _arrow_type_description(arrow_type.value_type),
        ]
    if t.is_struct(arrow_type):
        return [
            "struct",
            [
                [arrow_type.field(i).name, _arrow_type_description(arrow_type.field(i).type)]
                for i in range(arrow_type.num_fields)
            ],
        ]
    return str(arrow_type)


def _is_variable_list(arrow_type: Any) -> bool:
    import pyarrow as pa

    t = pa.types
    return bool(
        t.is_list(arrow_type)
        or t.is_large_list(arrow_type)
        or t.is_list_view(arrow_type)
        or t.is_large_list_view(arrow_type)
    )


def _fixed_bit_width(arrow_type: Any) -> int | None:
    try:
        return int(arrow_type.bit_width)
    except ValueError:
        return None


def arrow_column_digest(arrow_type: Any, chunks: list[Any], depth: int) -> bytes | None:
    """Digest of one logical column, identical however its values are split into chunks."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if depth > MAX_DEPTH:
        return None
    length = sum(len(chunk) for chunk in chunks)
    nulls = sum(chunk.null_count for chunk in chunks)
    size = sum(chunk.nbytes for chunk in chunks)
    column = new_hasher(CTX_ARROW_COLUMN)
    header = bytearray()
    encode(header, [_arrow_type_description(arrow_type), length, nulls > 0], 0)
    column.update(header)

    validity: list[npt.NDArray[np.uint8]] = []
    if nulls:
        stream = new_hasher(size_hint=length)
        for chunk in chunks:
            valid = (
                pc.is_valid(chunk).to_numpy(zero_copy_only=False).view(np.uint8)
                if chunk.null_count
                else np.ones(len(chunk), dtype=np.uint8)
            )
            validity.append(valid)
            stream.update(valid)
        column.update(b"V" + stream.digest())

    t = pa.types
    children: list[tuple[Any, list[Any]]] = []
    if isinstance(arrow_type, pa.ExtensionType):
        children.append((arrow_type.storage_type, [chunk.storage for chunk in chunks]))
    elif t.is_dictionary(arrow_type):
        children.append((arrow_type.value_type, [chunk.dictionary_decode() for chunk in chunks]))
    elif t.is_null(arrow_type):
        pass
    elif t.is_boolean(arrow_type):
        column.update(b"B" + _arrow_boolean_values(chunks, validity))
    elif _is_binary_like(arrow_type):
        column.update(b"S" + _arrow_binary_values(arrow_type, chunks, size))
    elif t.is_struct(arrow_type):
        flat = [chunk.flatten() for chunk in chunks]
        for index in range(arrow_type.num_fields):
            children.append((arrow_type.field(index).type, [parts[index] for parts in flat]))
    elif _is_variable_list(arrow_type) or t.is_fixed_size_list(arrow_type) or t.is_map(arrow_type):
        value_type = arrow_type.value_type if not t.is_map(arrow_type) else None
        if t.is_map(arrow_type):
            # list_flatten has no kernel for maps; the equivalent list of entries has one.
            value_type = pa.struct([arrow_type.key_field, arrow_type.item_field])
            chunks = [chunk.cast(pa.large_list(value_type)) for chunk in chunks]
        lengths = new_hasher(size_hint=8 * length)
        for chunk in chunks:
            sizes = pc.fill_null(pc.list_value_length(chunk), 0)
            lengths.update(sizes.to_numpy().astype("<i8").view(np.uint8))
        column.update(b"L" + lengths.digest())
        children.append((value_type, [chunk.flatten() for chunk in chunks]))
    elif (width := _fixed_bit_width(arrow_type)) is not None and width % 8 == 0:
        floats = f"<f{width // 8}" if t.is_floating(arrow_type) else None
        column.update(b"F" + _arrow_fixed_width_values(width // 8, floats, chunks, validity, size))
    else:
        # Unions, run-end encoded and other rare layouts: encode the Python values.
        stream = new_hasher()
        buffer = bytearray()
        try:
            for chunk in chunks:
                for item in chunk.to_pylist():
                    encode(buffer, item, depth + 1)
                stream.update(buffer)
                buffer.clear()
        except Unsupported:
            return None
        column.update(b"P" + stream.digest())

    for child_type, child_chunks in children:
        child = arrow_column_digest(child_type, child_chunks, depth + 1)
        if child is None:
            return None
        column.update(b"C" + child)
    return column.digest()


def _arrow_boolean_values(chunks: list[Any], validity: list[npt.NDArray[np.uint8]]) -> bytes:
    stream = new_hasher(size_hint=sum(len(chunk) for chunk in chunks))
    for index, chunk in enumerate(chunks):
        bits = _unpack_bits(chunk.buffers()[1], chunk.offset, len(chunk))
        stream.update(bits & validity[index] if chunk.null_count else bits)
    return stream.digest()


def _arrow_fixed_width_values(
    item: int,
    floats: str | None,
    chunks: list[Any],
    validity: list[npt.NDArray[np.uint8]],
    size: int,
) -> bytes:
    import numpy as np

    stream = new_hasher(size_hint=size)
    for index, chunk in enumerate(chunks):
        if not len(chunk):
            continue
        raw = np.frombuffer(
            chunk.buffers()[1], dtype=np.uint8, count=len(chunk) * item, offset=chunk.offset * item
        )
        if chunk.null_count:
            # Arrow leaves the bytes under a null undefined; zero them so they cannot leak.
            raw = raw.reshape(len(chunk), item).copy()
            raw[validity[index] == 0] = 0
            raw = raw.reshape(-1)
        if floats is not None:
            raw = canonical_nans(raw.view(floats)).view(np.uint8)
        stream.update(raw)
    return stream.digest()


def _arrow_binary_values(arrow_type: Any, chunks: list[Any], size: int) -> bytes:
    """Two streams: every value's byte length, then all the value bytes back to back."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = pa.types
    large = pa.large_string() if _is_string_like(arrow_type) else pa.large_binary()
    lengths = new_hasher(size_hint=8 * sum(len(chunk) for chunk in chunks))
    data = new_hasher(size_hint=size)
    for chunk in chunks:
        if t.is_string_view(chunk.type) or t.is_binary_view(chunk.type):
            # Views point into several data buffers; the offsets layout has one to slice.
            chunk = chunk.cast(large)
        if chunk.null_count:
            # A null slot may still span bytes; filling it with "" makes its length zero.
            chunk = pc.fill_null(chunk, pa.scalar(b"", type=chunk.type))
        if not len(chunk):
            continue
        offset_type = np.dtype(np.int64 if _is_large_offsets(chunk.type) else np.int32)
        offsets = np.frombuffer(
            chunk.buffers()[1],
            dtype=offset_type,
            count=len(chunk) + 1,
            offset=chunk.offset * offset_type.itemsize,
        )
        lengths.update(np.diff(offsets).astype("<i8").view(np.uint8))
        first, last = int(offsets[0]), int(offsets[-1])
        if last > first:
            data.update(memoryview(chunk.buffers()[2])[first:last])
    return lengths.digest() + data.digest()


def _unpack_bits(buffer: Any, offset: int, length: int) -> npt.NDArray[np.uint8]:
    import numpy as np

    if not length:
        return np.zeros(0, dtype=np.uint8)
    packed = np.frombuffer(buffer, dtype=np.uint8)[offset // 8 : (offset + length + 7) // 8]
    start = offset % 8
    return np.unpackbits(packed, bitorder="little")[start : start + length]


def _is_string_like(arrow_type: Any) -> bool:
    import pyarrow as pa

    t = pa.types
    return bool(
        t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_string_view(arrow_type)
    )


def _is_binary_like(arrow_type: Any) -> bool:
    import pyarrow as pa

    t = pa.types
    return _is_string_like(arrow_type) or bool(
        t.is_binary(arrow_type) or t.is_large_binary(arrow_type) or t.is_binary_view(arrow_type)
    )


def _is_large_offsets(arrow_type: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_large_string(arrow_type) or pa.types.is_large_binary(arrow_type))
