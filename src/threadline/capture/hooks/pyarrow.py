"""pyarrow: parquet, CSV and feather reads and writes, and datasets.

pyarrow's table methods are compiled and cannot be wrapped, so a table computed from a read
one (``table.filter(…)``) has no known origin: its upstream falls back to what it may hide,
every file read through pyarrow included (completeness first; see
:mod:`threadline.capture.tracking`).  Supported: pyarrow 12 and newer.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from threadline.capture.hooks import HookSpec
from threadline.capture.hooks._common import arg, version_tuple
from threadline.capture.hooks._patch import Patcher

if TYPE_CHECKING:
    from threadline.capture.recorder import Capture


def _supported() -> bool:
    import pyarrow

    return version_tuple(getattr(pyarrow, "__version__", "0")) >= (12,)


def _reader(capture: Capture, hook: str, *names: str) -> Any:
    def handler(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        capture.read(result, arg(args, kwargs, 0, *names), hook=hook)

    return handler


def _writer(capture: Capture, hook: str, data_index: int, target_index: int, *names: str) -> Any:
    def handler(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        data = arg(args, kwargs, data_index, "table", "data", "df")
        capture.wrote(data, arg(args, kwargs, target_index, *names), hook=hook)

    return handler


def _install_parquet(capture: Capture, patcher: Patcher, pq: ModuleType) -> bool:
    if not _supported():
        return False
    patcher.function(
        pq,
        "read_table",
        "pyarrow.parquet.read_table",
        _reader(capture, "pyarrow.parquet.read_table", "source"),
    )
    patcher.function(
        pq,
        "read_pandas",
        "pyarrow.parquet.read_pandas",
        _reader(capture, "pyarrow.parquet.read_pandas", "source"),
    )
    patcher.function(
        pq,
        "write_table",
        "pyarrow.parquet.write_table",
        _writer(capture, "pyarrow.parquet.write_table", 0, 1, "where"),
    )
    return True


def _install_csv(capture: Capture, patcher: Patcher, csv: ModuleType) -> bool:
    if not _supported():
        return False
    patcher.function(
        csv,
        "read_csv",
        "pyarrow.csv.read_csv",
        _reader(capture, "pyarrow.csv.read_csv", "input_file"),
    )
    patcher.function(
        csv,
        "write_csv",
        "pyarrow.csv.write_csv",
        _writer(capture, "pyarrow.csv.write_csv", 0, 1, "output_file"),
    )
    return True


def _install_feather(capture: Capture, patcher: Patcher, feather: ModuleType) -> bool:
    if not _supported():
        return False
    for name in ("read_table", "read_feather"):
        patcher.function(
            feather,
            name,
            f"pyarrow.feather.{name}",
            _reader(capture, f"pyarrow.feather.{name}", "source"),
        )
    patcher.function(
        feather,
        "write_feather",
        "pyarrow.feather.write_feather",
        _writer(capture, "pyarrow.feather.write_feather", 0, 1, "dest"),
    )
    return True


def _install_dataset(capture: Capture, patcher: Patcher, ds: ModuleType) -> bool:
    if not _supported():
        return False
    patcher.function(
        ds,
        "dataset",
        "pyarrow.dataset.dataset",
        _reader(capture, "pyarrow.dataset.dataset", "source"),
    )
    patcher.function(
        ds,
        "write_dataset",
        "pyarrow.dataset.write_dataset",
        _writer(capture, "pyarrow.dataset.write_dataset", 0, 1, "base_dir"),
    )
    return True


hook = HookSpec(
    name="pyarrow",
    targets={
        "pyarrow.parquet": _install_parquet,
        "pyarrow.csv": _install_csv,
        "pyarrow.feather": _install_feather,
        "pyarrow.dataset": _install_dataset,
    },
    description="pyarrow parquet, CSV, feather and datasets",
)
