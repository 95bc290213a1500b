"""pandas: ``read_*`` and ``DataFrame.to_*``, ``read_sql`` (tables named by the query), and
lineage through frame operations.

Propagation rides on pandas' own metadata hook: nearly every operation ends with
``result.__finalize__(source)``, so wrapping that one method carries lineage through column
selection, filtering, joins (``input_objs``) and the rest at the cost of a dictionary lookup.
In-place updates (``df[col] = values``, ``insert``) and constructors (``DataFrame({...})``) merge
the lineage of what they were given.  Supported: pandas 2.0 and newer.
"""

from __future__ import annotations

import re
from types import FunctionType, ModuleType
from typing import TYPE_CHECKING, Any, Final

from threadline.capture.hooks import HookSpec
from threadline.capture.hooks._common import arg, classes_at, operands, version_tuple
from threadline.capture.hooks._patch import (
    FOLLOWED,
    Patcher,
    caller_package,
    flow_method,
    from_library,
)
from threadline.capture.introspection import is_data
from threadline.model.ids import NodeId, local_host

if TYPE_CHECKING:
    from threadline.capture.recorder import Capture

READERS: Final = (
    "read_csv",
    "read_table",
    "read_fwf",
    "read_parquet",
    "read_json",
    "read_feather",
    "read_excel",
    "read_orc",
    "read_pickle",
    "read_xml",
    "read_stata",
    "read_sas",
    "read_spss",
    "read_hdf",
)
WRITERS: Final = (
    "to_csv",
    "to_parquet",
    "to_json",
    "to_feather",
    "to_excel",
    "to_orc",
    "to_pickle",
    "to_xml",
    "to_hdf",
    "to_stata",
)
_PATH_NAMES: Final = ("filepath_or_buffer", "path", "io", "path_or_buf", "path_or_buffer", "fname")
_NOT_POSITIONAL: Final = ("skiprows", "skipfooter", "chunksize", "iterator")


def _install(capture: Capture, patcher: Patcher, pd: ModuleType) -> bool:
    if version_tuple(getattr(pd, "__version__", "0")) < (2, 0):
        return False
    for name in READERS:
        patcher.function(pd, name, f"pandas.{name}", _reader(capture, name))
    for name in ("read_sql", "read_sql_query", "read_sql_table"):
        patcher.function(pd, name, f"pandas.{name}", _sql_reader(capture, name))
    for cls in (pd.DataFrame, pd.Series):
        for name in WRITERS:
            if hasattr(cls, name):
                patcher.inherited_method(cls, name, f"pandas.{name}", _writer(capture))
    _install_flow(capture, patcher, pd)
    return True


def _reader(capture: Capture, name: str) -> Any:
    def handler(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        target = arg(args, kwargs, 0, *_PATH_NAMES)
        positional = not any(kwargs.get(key) for key in _NOT_POSITIONAL)
        if isinstance(result, dict):  # read_excel(sheet_name=None): one frame per sheet
            artifacts = capture.read(None, target, hook=f"pandas.{name}")
            for frame in result.values():
                capture.flow.track(frame, artifacts)
        else:
            artifacts = capture.read(result, target, hook=f"pandas.{name}", positional=positional)
        # A frame (or chunks of one): its operations are followed from here on.
        capture.flow.contain(artifacts)

    return handler


def _writer(capture: Capture) -> Any:
    def handler(frame: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        target = arg(args, kwargs, 0, *_PATH_NAMES)
        if target is None:  # returned as text or bytes: nothing reached a file, but the values
            capture.flow.escape(frame)  # left the frames
            return
        capture.wrote(frame, target, hook="pandas.write")

    return handler


# --- SQL -----------------------------------------------------------------------------------

# Patterns, compiled by re (and kept in its cache) when a query is first read: every pandas
# script loads this module, few read SQL.
_TABLE: Final = (
    r"""\b(?:from|join|into|update)\s+((?:"[^"]+"|`[^`]+`|\[[^\]]+\]|[A-Za-z_][\w$]*)"""
    r"""(?:\s*\.\s*(?:"[^"]+"|`[^`]+`|\[[^\]]+\]|[A-Za-z_][\w$]*))*)"""
)
_COMMENT: Final = r"--[^\n]*|/\*.*?\*/"
_STRING: Final = r"'(?:[^']|'')*'"
_CTE: Final = r"(?:\bwith|,)\s*([A-Za-z_]\w*)\s+as\s*\("


def tables_in_sql(sql: str) -> list[str]:
    """The tables a query reads (``FROM``/``JOIN`` targets), CTE names left out."""
    text = re.sub(_STRING, "''", re.sub(_COMMENT, " ", sql, flags=re.DOTALL))
    ctes = {m.group(1).lower() for m in re.finditer(_CTE, text, re.IGNORECASE)}
    tables: list[str] = []
    for match in re.finditer(_TABLE, text, re.IGNORECASE):
        raw = match.group(1)
        parts = [p.strip().strip('"`[]') for p in raw.split(".")]
        name = ".".join(parts)
        if name.lower() in ctes or name.lower() in ("select", "lateral", "unnest"):
            continue
        if name not in tables:
            tables.append(name)
    return tables


def database_namespace(con: Any) -> tuple[str, str | None]:
    """OpenLineage namespace of a connection, and the database name for ``db.schema.table``."""
    url = None
    engine = getattr(con, "engine", None)
    if engine is not None and hasattr(engine, "url"):
        url = engine.url
    elif isinstance(con, str):
        try:
            from sqlalchemy.engine import make_url

            url = make_url(con)
        except Exception:
            return f"sql://{local_host()}", None
    if url is not None:
        backend = url.get_backend_name()
        if backend == "sqlite":
            return f"sqlite://{local_host()}{_abs(url.database or '')}", None
        port = f":{url.port}" if url.port else ""
        return f"{backend}://{url.host or 'localhost'}{port}", url.database
    if type(con).__module__ == "sqlite3":
        try:
            rows = con.execute("PRAGMA database_list").fetchall()
            path = next((r[2] for r in rows if r[1] == "main"), "") or ":memory:"
        except Exception:
            path = ":memory:"
        return f"sqlite://{local_host()}{_abs(path)}", None
    return f"sql://{local_host()}", None


def _abs(path: str) -> str:
    import os

    if not path or path == ":memory:":
        return "/:memory:"
    return os.path.abspath(path)


def _sql_reader(capture: Capture, name: str) -> Any:
    def handler(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        query = arg(args, kwargs, 0, "sql", "table_name")
        con = arg(args, kwargs, 1, "con")
        if not isinstance(query, str):
            query = str(query)  # a SQLAlchemy selectable prints as SQL
        namespace, database = database_namespace(con)
        is_table = name == "read_sql_table" or re.fullmatch(r"[\w.$\"`\[\]]+", query.strip())
        tables = [query.strip()] if is_table else tables_in_sql(query)
        schema = kwargs.get("schema")
        names = []
        for table in tables:
            qualified = f"{schema}.{table}" if schema and "." not in table else table
            names.append(f"{database}.{qualified}" if database else qualified)
        nodes = [NodeId("dataset", namespace, n) for n in names]
        if nodes:
            capture.flow.contain(capture.read_nodes(result, nodes, hook=f"pandas.{name}"))

    return handler


# --- propagation ---------------------------------------------------------------------------

#: Module functions that combine or reshape frames (the result derives from their operands).
FUNCTIONS: Final = (
    "concat",
    "merge",
    "merge_asof",
    "merge_ordered",
    "get_dummies",
    "from_dummies",
    "pivot",
    "pivot_table",
    "crosstab",
    "melt",
    "wide_to_long",
    "cut",
    "qcut",
    "to_numeric",
    "to_datetime",
    "to_timedelta",
    "factorize",
    "unique",
)
#: Methods that hand a frame's values to code no hook follows (Python objects, iterators).
TAKEN_OUT: Final = (
    "tolist",
    "to_list",
    "to_dict",
    "to_records",
    "items",
    "iterrows",
    "itertuples",
    "__iter__",
)
#: Methods that return text or facts about the frame, not data.
_NOT_DATA: Final = frozenset(
    {
        "to_string",
        "to_html",
        "to_markdown",
        "to_latex",
        "to_clipboard",
        "info",
        "equals",
        "keys",
        "memory_usage",
        "pipe",
        "__iter__",
    }
)
#: Index methods that take data (pandas calls the others internally all the time).
_LABEL_OPERATIONS: Final = (
    "isin",
    "map",
    "where",
    "putmask",
    "union",
    "intersection",
    "difference",
    "symmetric_difference",
)
#: Methods whose scalar answer is a count or a size, not one of the frame's values.
_COUNTS: Final = frozenset({"count", "nunique", "size", "ngroups", "value_counts"})
#: Helper objects whose methods compute from the frame they were made from (``obj``).
_HELPERS: Final = (
    "core.groupby.generic.DataFrameGroupBy",
    "core.groupby.generic.SeriesGroupBy",
    "core.window.rolling.Rolling",
    "core.window.rolling.Window",
    "core.window.expanding.Expanding",
    "core.window.ewm.ExponentialMovingWindow",
    "core.resample.Resampler",
)


def _install_flow(capture: Capture, patcher: Patcher, pd: ModuleType) -> None:
    flow = capture.flow
    generic: Any = pd.core.generic.NDFrame
    index_type: Any = pd.Index

    def finalize(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any], _: Any) -> None:
        other = args[0] if args else kwargs.get("other")
        if isinstance(other, generic):
            if not flow.known(other):
                return
        else:
            objs = getattr(other, "input_objs", None)
            if objs is not None:
                flow.derive(result, list(objs))
            return
        link, _ = flow.rowlink(other)
        flow.derive(result, (other,), rows_kept=link is not None and _same_rows(result, other))

    def merge(target: Any, value: Any, key: Any) -> None:
        if flow.lineage(value) is None and is_data(value) and from_library(2):
            # pandas building a result from its own arrays (``a > 1`` makes a Series from an
            # ndarray, then ``__finalize__`` gives it ``a``'s lineage): not unknown data.
            return
        flow.merge_into(target, value, key)

    def merge_setitem(frame: Any, args: tuple[Any, ...], kwargs: dict[str, Any], _: Any) -> None:
        if len(args) >= 2:
            merge(frame, args[1], args[0])

    def merge_insert(frame: Any, args: tuple[Any, ...], kwargs: dict[str, Any], _: Any) -> None:
        merge(frame, arg(args, kwargs, 2, "value"), arg(args, kwargs, 1, "column"))

    def construct(frame: Any, args: tuple[Any, ...], kwargs: dict[str, Any], _: Any) -> None:
        data = arg(args, kwargs, 0, "data")
        if data is None:
            return
        if isinstance(data, dict):
            for key, value in data.items():
                merge(frame, value, key)
        else:
            merge(frame, data, kwargs.get("name") if not hasattr(frame, "columns") else None)

    def to_array(frame: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        flow.derive(result, (frame,), rows_kept=True)
        if flow.holds_contained(frame) and caller_package(1) not in FOLLOWED:
            flow.escape(frame)

    def taken_out(frame: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        if flow.holds_contained(frame) and caller_package(1) not in FOLLOWED:
            flow.escape(frame)

    def operation(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        # Any other method: the result derives from the frame and the data it was given.
        found, called = operands(args, kwargs)
        if result is None or result is owner:
            for value in found:  # in place: ``df.update(other)``, ``fillna(s, inplace=True)``
                flow.merge_into(owner, value)
            return
        source = owner if isinstance(owner, generic) else getattr(owner, "obj", None)
        if isinstance(result, index_type) or type(result).__name__ == "bool":  # numpy's too
            return
        if not is_data(result) or getattr(result, "shape", None) == ():
            # A value out of the frame (``s.mean()``, ``s.iloc[0]``): no hook follows a scalar,
            # so whatever it is mixed into may hide the frame's files from now on.
            if flow.holds_contained(source):
                flow.escape(source)
            return
        if not found and source is owner and flow.settled(result):
            return  # ``__finalize__`` gave it the frame's lineage already: nothing to add
        parents = [source, *found]
        if source is not owner and flow.lineage(owner) is not None:
            parents.append(owner)  # a groupby made with another frame's keys
        flow.derive(result, parents, operands=not called)

    def counting(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        # Counts and sizes describe a frame; they are not its values.
        if is_data(result):
            operation(owner, args, kwargs, result)

    def function(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        found, called = operands(args, kwargs)
        if isinstance(result, tuple):  # ``factorize``, ``cut(retbins=True)``
            for part in result:
                flow.derive(part, found, operands=not called)
        elif found:
            flow.derive(result, found, operands=not called)
            if kwargs.get("axis") in (1, "columns") and _side_by_side(found):
                flow.set_columns(result, [(_names(part), part) for part in found])

    def labels(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        # Index methods (``df.index.isin(other["id"])``) answer in arrays, whose operators no
        # hook follows: what they were given leaves the frames.
        found, _ = operands(args, kwargs)
        for value in found:
            if flow.holds_contained(value):
                flow.escape(value)
        if found and not isinstance(result, index_type):
            flow.derive(result, found, operands=True)

    def selection(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        # ``df[["a", "b"]]``, ``df.drop(columns=…)``: only those columns' own sources remain.
        if (
            flow.knows_columns(owner)
            and isinstance(result, generic)
            and result is not owner
            and _selects_columns(args, kwargs)
            and flow.select_columns(result, owner, _names(result))
        ):
            return
        operation(owner, args, kwargs, result)

    def set_through_indexer(
        indexer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], _: Any
    ) -> None:
        # ``df.loc[mask, "a"] = other["b"]``: the frame now holds the value's data, and which
        # rows changed depends on the key's.
        target = getattr(indexer, "obj", None)
        if target is None or len(args) < 2:
            return
        found, _ = operands(args[:1], {})
        for value in (*found, args[1]):
            merge(target, value, None)

    patcher.flow(generic, "__finalize__", finalize)
    for cls in (pd.DataFrame, pd.Series):
        patcher.flow(cls, "__init__", construct)
        patcher.flow(cls, "to_numpy", to_array)
        patcher.flow(cls, "__array__", to_array)
        values = vars(cls).get("values") or getattr(cls, "values", None)
        if isinstance(values, property) and values.fget is not None:
            patcher.set(cls, "values", property(flow_method(values.fget, to_array)), follows=True)
        for name in TAKEN_OUT:
            if name != "__iter__" or cls is pd.Series:  # a frame iterates its column names
                patcher.flow(cls, name, taken_out)
    patcher.flow(pd.DataFrame, "__setitem__", merge_setitem)
    patcher.flow(pd.DataFrame, "insert", merge_insert)
    indexer: Any = pd.core.indexing._LocationIndexer
    patcher.operation(indexer, "__getitem__", operation)
    patcher.flow(indexer, "__setitem__", set_through_indexer)
    for name in ("drop", "__getitem__"):
        patcher.operation(pd.DataFrame, name, selection)
    for cls in (pd.DataFrame, pd.Series, *classes_at(pd, _HELPERS)):
        for name in _public_methods(cls):
            patcher.operation(cls, name, counting if name in _COUNTS else operation)
        patcher.operation(cls, "__getitem__", operation)
    for name in FUNCTIONS:
        patcher.operation_function(pd, name, function)
    for name in _LABEL_OPERATIONS:
        patcher.operation(index_type, name, labels)
    readers: Any = pd.io.parsers.readers.TextFileReader
    for name in ("__next__", "read", "get_chunk"):
        patcher.flow(readers, name, _derive_from_owner(capture))


def _names(part: Any) -> list[Any]:
    """Column names of a frame, or a series' name as its one column."""
    if hasattr(type(part), "columns"):  # not ``part.columns``: a series may have that label
        return list(part.columns)
    return [getattr(part, "name", None)]


def _side_by_side(parts: list[Any]) -> bool:
    """Frames and series with one and the same index: ``concat(axis=1)`` only puts columns
    side by side (no part adds or drops a row)."""
    try:
        first = parts[0].index
        return all(part.index is first or part.index.equals(first) for part in parts[1:])
    except AttributeError:
        return False


def _selects_columns(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """The call only picks or drops columns by name (``df[["a"]]``, ``drop(columns=…)``)."""
    if args:
        key = args[0]
        names = key if isinstance(key, list) else [key]
        return len(args) == 1 and not kwargs and all(isinstance(n, str) for n in names)
    return "columns" in kwargs and "index" not in kwargs and "labels" not in kwargs


def _public_methods(cls: type) -> list[str]:
    """Public functions ``cls`` has (inherited ones included), except those returning text."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and isinstance(value, FunctionType):
                names.add(name)
    return sorted(names - _NOT_DATA - set(TAKEN_OUT) - {"to_numpy", "insert", *WRITERS})


def _derive_from_owner(capture: Capture) -> Any:
    def handler(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> None:
        capture.flow.derive(result, (owner,))

    return handler


def _same_rows(result: Any, source: Any) -> bool:
    """True when ``result`` holds ``source``'s rows, in order (same length, equal index)."""
    try:
        if len(result) != len(source):
            return False
        return bool(result.index is source.index or result.index.equals(source.index))
    except Exception:
        return False


hook = HookSpec(
    name="pandas",
    targets={"pandas": _install},
    description="pandas readers, writers, read_sql and frame operations",
)
