"""Row values of local data files (CSV, TSV, Parquet): what ``threadline trace ID#row=N`` shows
of the input row when the file is still on this host and unchanged.

Kept apart from the query layer, which answers from the store alone: only a caller that asks
for values (the CLI, the Python API) reads files, and the server never does.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from threadline.errors import MissingDependency, ThreadlineError
from threadline.fingerprint import fingerprint_file
from threadline.model.ids import local_host

#: Files larger than this are not opened to show a row's values.
VALUE_FILE_BYTES: Final = 64 * 1024 * 1024
#: Columns of a row's values kept in an answer (a wide table is cut, and says so).
VALUE_COLUMNS: Final = 200


def read_row(
    namespace: str, name: str, version: str, row: int
) -> tuple[dict[str, Any] | None, str]:
    """Data row ``row`` of a recorded file, or ``None`` and why it cannot be shown.

    The file must be on this host and still hold ``version``: values read from a file that
    changed since would be a different row than the one that was scored.
    """
    if not namespace.startswith("file://"):
        return None, "not a file (only files are read)"
    host = namespace[len("file://") :]
    if host not in ("", local_host()):
        return None, f"the file is on host {host}, not this one"
    reader = _READERS.get(_suffix(name))
    if reader is None:
        return None, "values are read from CSV, TSV and Parquet files only"
    try:
        st = os.stat(name)
    except OSError:
        return None, f"{name} cannot be read here"
    if not stat.S_ISREG(st.st_mode):
        return None, f"{name} is not a regular file"
    if st.st_size > VALUE_FILE_BYTES:
        return None, f"the file is larger than {VALUE_FILE_BYTES // (1024 * 1024)} MiB"
    try:
        if fingerprint_file(name) != version:
            return None, "the file changed since it was recorded"
        found = reader(Path(name), row)
    except ModuleNotFoundError as exc:
        missing = MissingDependency.from_import(exc)
        return None, missing.message if missing else f"{exc.name} is needed to read this file"
    except ImportError as exc:
        return None, f"{exc.name or 'a reader'} is needed to read this file"
    except (OSError, ValueError, csv.Error, ThreadlineError) as exc:
        return None, f"cannot read the file: {str(exc).splitlines()[0] if str(exc) else exc}"
    if found is None:
        return None, f"the file has no data row {row}"
    if len(found) > VALUE_COLUMNS:
        kept = dict(itertools.islice(found.items(), VALUE_COLUMNS))
        kept["…"] = f"{len(found) - VALUE_COLUMNS} more columns"
        return kept, ""
    return found, ""


def _suffix(name: str) -> str:
    return Path(name).suffix.lower()


_INT = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?")


def _cell(text: str) -> Any:
    """A CSV cell as JSON: numbers as numbers, empty as null, the rest as text.

    Digits with a leading zero stay text: they are codes (zip codes, ids), not quantities.
    """
    if text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        digits = text.lstrip("+-")
        if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
            return text
        return float(text)
    return text


def _delimited(delimiter: str) -> Callable[[Path, int], dict[str, Any] | None]:
    def read_delimited(path: Path, row: int) -> dict[str, Any] | None:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                return None
            found = next(itertools.islice(reader, row, None), None)
        if found is None:
            return None
        names = [h or f"column_{i}" for i, h in enumerate(header)]
        return {n: _cell(v) for n, v in zip(names, found, strict=False)}

    return read_delimited


def _parquet(path: Path, row: int) -> dict[str, Any] | None:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as parquet:
        meta = parquet.metadata
        offset = row
        for group in range(meta.num_row_groups):
            size = meta.row_group(group).num_rows
            if offset < size:
                table = parquet.read_row_group(group).slice(offset, 1)
                record: dict[str, Any] = table.to_pylist()[0]
                return {str(k): _jsonable(v) for k, v in record.items()}
            offset -= size
    return None


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


_READERS: Final[dict[str, Callable[[Path, int], dict[str, Any] | None]]] = {
    ".csv": _delimited(","),
    ".tsv": _delimited("\t"),
    ".parquet": _parquet,
}


__all__ = ["VALUE_COLUMNS", "VALUE_FILE_BYTES", "read_row"]
