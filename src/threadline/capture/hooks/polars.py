"""polars: ``read_*``, ``scan_*`` (+ ``collect``), ``DataFrame.write_*`` and ``LazyFrame.sink_*``.

A ``scan_*`` is recorded as a read when it is made (the file is fingerprinted then); every
frame, lazy frame or series computed from it (``filter``, ``join``, ``collect``…) carries its
lineage, through a light wrapper on the public methods of ``DataFrame``, ``LazyFrame`` and
``Series``.  Supported: polars 0.20 and newer.
"""

from __future__ import annotations

from types import FunctionType, ModuleType
from typing import TYPE_CHECKING, Any, Final

from threadline.capture.hooks import HookSpec
from threadline.capture.hooks._common import arg, classes_at, operands, version_tuple
from threadline.capture.hooks._patch import FOLLOWED, Patcher, caller_package

if TYPE_CHECKING:
    from threadline.capture.recorder import Capture

READERS: Final = (
    "read_csv",
    "read_parquet",
    "read_json",
    "read_ndjson",
    "read_ipc",
    "read_ipc_stream",
    "read_excel",
    "read_ods",
    "read_avro",
    "read_delta",
)
SCANNERS: Final = ("scan_csv", "scan_parquet", "scan_ndjson", "scan_ipc", "scan_delta")
WRITERS: Final = (
    "write_csv",
    "write_parquet",
    "write_json",
    "write_ndjson",
    "write_ipc",
    "write_ipc_stream",
    "write_excel",
    "write_avro",
    "write_delta",
)
SINKS: Final = ("sink_parquet", "sink_csv", "sink_ipc", "sink_ndjson")
#: Methods whose result holds the receiver's rows in order.
ROWS_KEPT: Final = frozenset(
    {
        "select",
        "with_columns",
        "drop",
        "rename",
        "cast",
        "to_numpy",
        "to_pandas",
        "to_arrow",
        "clone",
        "fill_null",
        "fill_nan",
        "with_row_index",
        "hstack",
        "alias",
        "to_series",
        "get_column",
    }
)
_PATHS: Final = ("source", "file", "path")
_SKIP: Final = frozenset(
    {"__init__", "__repr__", "__str__", "__len__", "__bool__", "__eq__", "__hash__"}
)


def _install(capture: Capture, patcher: Patcher, pl: ModuleType) -> bool:
    if version_tuple(getattr(pl, "__version__", "0")) < (0, 20):
        return False

    def reader(name: str) -> Any:
        def handler(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
            artifacts = capture.read(result, arg(args, kwargs, 0, *_PATHS), hook=f"polars.{name}")
            capture.flow.contain(artifacts)  # a frame: its operations are followed from here

        return handler

    def writer(name: str) -> Any:
        def handler(frame: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
            target = arg(args, kwargs, 0, "file", "path", "target", "workbook")
            if target is not None:
                capture.wrote(frame, target, hook=f"polars.{name}")

        return handler

    for name in (*READERS, *SCANNERS):
        patcher.function(pl, name, f"polars.{name}", reader(name))
    _install_flow(capture, patcher, pl)
    for name in WRITERS:
        if hasattr(pl.DataFrame, name):
            patcher.inherited_method(pl.DataFrame, name, f"polars.{name}", writer(name))
    for name in SINKS:
        if hasattr(pl.LazyFrame, name):
            patcher.inherited_method(pl.LazyFrame, name, f"polars.{name}", writer(name))
    return True


#: Operators whose result is a frame or series computed from the operands.
_ARITHMETIC: Final = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor")
OPERATORS: Final = (
    *(f"__{side}{name}__" for name in _ARITHMETIC for side in ("", "r")),
    *("__neg__", "__invert__", "__abs__", "__lt__", "__le__", "__gt__", "__ge__", "__ne__"),
)
#: Helper objects whose methods compute from the frame they were made from.
_GROUPS: Final = (
    "dataframe.group_by.GroupBy",
    "dataframe.group_by.RollingGroupBy",
    "dataframe.group_by.DynamicGroupBy",
    "lazyframe.group_by.LazyGroupBy",
)
#: Methods that, given column names only, keep just those columns of the same rows.
_SELECTIONS: Final = frozenset({"select", "drop", "__getitem__"})
#: Methods whose scalar answer is a count or a size, not one of the frame's values.
_COUNTS: Final = frozenset({"count", "n_unique", "len", "null_count", "estimated_size"})
#: Results that are parameters or facts, not data.
_SCALARS: Final = (str, bytes, bool, int, float, type(None))


def _install_flow(capture: Capture, patcher: Patcher, pl: ModuleType) -> None:
    flow = capture.flow
    classes = (pl.DataFrame, pl.LazyFrame, pl.Series)

    def derive(name: str) -> Any:
        kept = name in ROWS_KEPT
        counts = name in _COUNTS

        def handler(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
            if result is owner or isinstance(result, _SCALARS):
                if (
                    not counts
                    and type(result).__name__ not in ("bool", "NoneType")
                    and flow.holds_contained(owner)
                    and caller_package(1) not in FOLLOWED
                ):
                    flow.escape(owner)  # a value out of the frame (``s.mean()``, ``s.item()``)
                return
            parents = [owner]
            for value in (*args, *kwargs.values()):
                if isinstance(value, classes):
                    parents.append(value)
                elif isinstance(value, (list, tuple)):
                    parents.extend(v for v in value if isinstance(v, classes))
            rows = kept or (
                name == "__getitem__" and isinstance(args[0] if args else None, (str, list))
            )
            if not (
                name in _SELECTIONS
                and flow.knows_columns(owner)
                and _names_only(args)
                and flow.select_columns(result, owner, _names(result))
            ):
                flow.derive(result, parents, rows_kept=rows)
            if name == "hstack" and isinstance(result, pl.DataFrame):
                flow.set_columns(result, [(_names(part), part) for part in parents])
            if (
                type(result).__module__.partition(".")[0] in ("numpy", "builtins", "pyarrow")
                and flow.holds_contained(owner)
                and caller_package(1) not in FOLLOWED
            ):
                # ``to_numpy``, ``to_list``, ``rows``, ``iter_rows``: values out of the frames.
                flow.escape(owner)

        return handler

    for cls in classes:
        for name, value in list(vars(cls).items()):
            if name in _SKIP or (
                name.startswith("_") and name not in ("__getitem__", "__array__", *OPERATORS)
            ):
                continue
            if name.startswith(("write_", "sink_")) or not callable(value):
                continue
            if not hasattr(value, "__code__"):
                continue
            patcher.flow(cls, name, derive(name))

    def grouped(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        found, _ = operands(args, kwargs)
        parents = [getattr(owner, "df", None), *found]
        if flow.lineage(owner) is not None:  # made by ``group_by`` (a lazy one has no ``df``)
            parents.append(owner)
        flow.derive(result, parents)

    for cls in classes_at(pl, _GROUPS):
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and isinstance(value, FunctionType):
                patcher.flow(cls, name, grouped)

    def construct(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], _: Any) -> None:
        found, _ = operands(args, kwargs)  # ``pl.Series("p", array)``, ``pl.DataFrame({…})``
        if found:
            flow.derive(obj, found)

    for cls in (pl.DataFrame, pl.Series):
        patcher.flow(cls, "__init__", construct)

    def concat(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        items = arg(args, kwargs, 0, "items")
        if isinstance(items, (list, tuple)):
            flow.derive(result, list(items))
            if kwargs.get("how") == "horizontal":
                flow.set_columns(result, [(_names(part), part) for part in items])

    patcher.function(pl, "concat", "polars.concat", concat)


def _names(part: Any) -> list[Any]:
    """Column names of a frame, or a series' name as its one column (none for a lazy frame,
    whose names would cost resolving its plan)."""
    if type(part).__name__ == "LazyFrame":
        return []
    columns = getattr(part, "columns", None)
    return list(columns) if isinstance(columns, list) else [getattr(part, "name", None)]


def _names_only(args: tuple[Any, ...]) -> bool:
    """Columns picked or dropped by name only (``select("a", "b")``, ``drop(["c"])``)."""
    names = [n for a in args for n in (a if isinstance(a, (list, tuple)) else (a,))]
    return bool(names) and all(isinstance(n, str) for n in names)


hook = HookSpec(name="polars", targets={"polars": _install}, description="polars I/O and frames")
