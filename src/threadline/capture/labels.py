"""Business context by configuration: labels, owners and paths to ignore.

Read from ``threadline.toml`` or ``[tool.threadline]`` in ``pyproject.toml`` (the table that
:func:`threadline.config.resolve` returns as ``Settings.file``)::

    [tool.threadline]
    namespace = "fraud"
    owners = ["team:ml"]                      # owners of everything captured here
    ignore = ["scratch/**", "*.tmp"]          # never recorded (added to the defaults)

    [[tool.threadline.classify]]
    path = "data/customers*.csv"              # a glob; relative globs start at the project
    labels = ["pii"]
    owners = ["team:crm"]

    [[tool.threadline.classify]]
    column = "email"                          # a column name (glob) in any frame read/written
    labels = ["pii"]

Globs: ``*`` and ``?`` stay within one path segment, ``**`` spans any number of them.  A
relative glob is anchored at the folder of the settings file (or the working directory).

Labels attach at capture as the ``threadline_classification`` facet (``labels``); everything
downstream of a labelled artifact carries them in ``inherited``.  Owners attach as the standard
``ownership`` facet.  Always ignored: the store and its side files, the ``.threadline`` folder,
installed packages (``site-packages``, ``dist-packages``, the interpreter's own library) and
``/proc``, ``/sys``, ``/dev``.
"""

from __future__ import annotations

import functools
import re
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from threadline.errors import UsageError
from threadline.frozen import frozen_record


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob (``*``, ``?``, ``**``, ``[…]``) to an anchored regex."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


@frozen_record
class Rule:
    """One ``[[classify]]`` entry: a path glob or a column glob, and what it attaches."""

    labels: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    path: re.Pattern[str] | None = None
    column: re.Pattern[str] | None = None


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise UsageError(
        f"threadline settings: {key} = {value!r} must be a string or a list of strings"
    )


def _anchor(pattern: str, root: Path) -> str:
    if pattern.startswith(("/", "**")):
        return pattern
    return root.as_posix().rstrip("/") + "/" + pattern


def default_ignores(store: str | None, cwd: Path) -> list[str]:
    """Paths that are never lineage: the store, installed packages, pseudo filesystems."""
    patterns = ["/proc/**", "/sys/**", "/dev/**", "**/site-packages/**", "**/dist-packages/**"]
    for key in ("stdlib", "platstdlib"):
        location = sysconfig.get_paths().get(key)
        if location:
            patterns.append(Path(location).as_posix() + "/**")
    patterns.append((cwd / ".threadline").as_posix() + "/**")
    target = store
    if target and (target.startswith("sqlite:") or "://" not in target):
        raw = target.split(":///", 1)[1] if target.startswith("sqlite:") else target
        path = Path(raw).expanduser()
        path = path if path.is_absolute() else cwd / path
        patterns.append(path.as_posix() + "*")
    return patterns


@frozen_record
class Labels:
    """The resolved classification rules of a project."""

    rules: tuple[Rule, ...] = ()
    owners: tuple[str, ...] = ()
    ignore: tuple[re.Pattern[str], ...] = ()
    _column_rules: tuple[Rule, ...] = ()
    _path_rules: tuple[Rule, ...] = ()

    @classmethod
    def from_table(
        cls, table: Mapping[str, Any] | None, *, root: Path, store: str | None = None
    ) -> Labels:
        """Build from the raw settings table; raises :class:`UsageError` naming a bad key."""
        table = table or {}
        owners = _strings(table.get("owners"), "owners")
        ignores = [
            *default_ignores(store if store is not None else table.get("store"), root),
            *(_anchor(p, root) for p in _strings(table.get("ignore"), "ignore")),
        ]
        raw_rules = table.get("classify") or []
        if not isinstance(raw_rules, list):
            raise UsageError("threadline settings: classify must be an array of tables")
        rules: list[Rule] = []
        for index, raw in enumerate(raw_rules):
            where = f"classify[{index}]"
            if not isinstance(raw, Mapping):
                raise UsageError(f"threadline settings: {where} must be a table")
            unknown = set(raw) - {"path", "column", "labels", "owners"}
            if unknown:
                raise UsageError(
                    f"threadline settings: {where} has unknown key(s) {', '.join(sorted(unknown))}; "
                    "use path, column, labels, owners"
                )
            path, column = raw.get("path"), raw.get("column")
            if (path is None) == (column is None):
                raise UsageError(
                    f"threadline settings: {where} needs exactly one of path or column"
                )
            if not isinstance(path or column, str):
                raise UsageError(f"threadline settings: {where} path/column must be a string")
            rules.append(
                Rule(
                    labels=_strings(raw.get("labels"), f"{where}.labels"),
                    owners=_strings(raw.get("owners"), f"{where}.owners"),
                    path=glob_regex(_anchor(path, root)) if isinstance(path, str) else None,
                    column=glob_regex(column) if isinstance(column, str) else None,
                )
            )
        return cls(
            rules=tuple(rules),
            owners=owners,
            ignore=tuple(glob_regex(p) for p in ignores),
            _column_rules=tuple(r for r in rules if r.column is not None),
            _path_rules=tuple(r for r in rules if r.path is not None),
        )

    def ignored(self, path: str) -> bool:
        return _ignored(self.ignore, path)

    def for_path(self, path: str | None) -> tuple[frozenset[str], tuple[str, ...]]:
        """Labels and owners of a local file path (owners default to the project owners)."""
        labels: set[str] = set()
        owners: list[str] = []
        if path is not None:
            for rule in self._path_rules:
                if rule.path is not None and rule.path.match(path):
                    labels.update(rule.labels)
                    owners.extend(o for o in rule.owners if o not in owners)
        return frozenset(labels), tuple(owners) or self.owners

    def for_columns(self, columns: Iterable[str]) -> frozenset[str]:
        if not self._column_rules:
            return frozenset()
        labels: set[str] = set()
        for name in columns:
            for rule in self._column_rules:
                if rule.column is not None and rule.column.match(name):
                    labels.update(rule.labels)
        return frozenset(labels)


@functools.lru_cache(maxsize=4096)
def _ignored_cached(patterns: tuple[re.Pattern[str], ...], path: str) -> bool:
    return any(p.match(path) for p in patterns)


def _ignored(patterns: tuple[re.Pattern[str], ...], path: str) -> bool:
    return _ignored_cached(patterns, path)


def from_settings(settings: Any, *, cwd: Path | None = None) -> Labels:
    """The rules of the project whose settings ``settings`` are (see the module docstring)."""
    root = Path(getattr(settings, "source_dir", None) or cwd or Path.cwd())
    return Labels.from_table(getattr(settings, "file", None), root=root, store=settings.store)


__all__ = ["Labels", "Rule", "default_ignores", "from_settings", "glob_regex"]
