"""Settings files: the nearest ``threadline.toml`` or ``[tool.threadline]`` table, read once
per edit for every process that resolves settings.

Every ``threadline run`` launcher and every process it captures resolves settings, and in a
project with a ``threadline.toml`` or a ``pyproject.toml`` each of them imported
:mod:`tomllib` to read the same unchanged file: ~10 ms of a launcher's CPU (tomllib brings
``re`` and ``enum``, which the launcher otherwise never loads) and ~2 ms of a captured
process's, every command.  The settings table a file holds is therefore kept as JSON in the
temporary folder, beside the writer agents' files, under a digest of the user, threadline's
version and the file's path, and taken only while the file is exactly as it was read: same
device, inode, size, modification and change times (a write moves the change time, which no
user can set back).  A file changed less than :data:`SETTLED_SECONDS` before it is read is not
kept: file systems stamp times coarsely (a kernel tick; a whole second on some), so a second
write within the same tick could leave every stamp as it was.  A kept table owned by another
user or writable by others is ignored; one that cannot be kept (a TOML date, which JSON cannot
hold; a read-only temporary folder) is read from the file every time, as before.
"""

from __future__ import annotations

import math
import os
import time

from threadline.errors import UsageError
from threadline.quick_json import compact_json, json_object
from threadline.temp_files import shared_stem

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Final

#: How the kept tables' files in the temporary folder begin.
MEMO_PREFIX: Final = "tls-"
#: How long a settings file must have stood unchanged before its table is kept (beyond the
#: coarsest time stamps in use: FAT's two seconds).
SETTLED_SECONDS: Final = 2.5
_MISSING: Final = object()


def find_settings_file(start: str) -> tuple[str, Mapping[str, Any]] | None:
    """The settings file nearest ``start`` (itself, then each folder up) and the table it
    holds: ``threadline.toml`` whole, or the ``[tool.threadline]`` table of a
    ``pyproject.toml`` (one without that table is passed over)."""
    folder = start
    while True:
        candidate = os.path.join(folder, "threadline.toml")
        if os.path.isfile(candidate):
            return candidate, settings_table(candidate, load_toml)
        pyproject = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(pyproject):
            table = settings_table(pyproject, _tool_table)
            if isinstance(table, dict):
                return pyproject, table
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def settings_table(path: str, read: Callable[[str], Any]) -> Any:
    """``read(path)``, or what it gave for the file as it is now (see the module docstring)."""
    try:
        status = os.stat(path)
    except OSError:
        return read(path)  # which says what is wrong with the file
    stamp = [status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns]
    memo = memo_path(path)
    kept = _kept(memo, stamp)
    if kept is not _MISSING:
        return kept
    table = read(path)
    settled = time.time_ns() - max(status.st_mtime_ns, status.st_ctime_ns)
    if settled > SETTLED_SECONDS * 1e9 and _plain(table):
        _keep(memo, {"stamp": stamp, "table": table})
    return table


def memo_path(path: str) -> str:
    """Where the table read from the settings file at ``path`` is kept."""
    return shared_stem(MEMO_PREFIX, os.path.abspath(path)) + ".json"


def _tool_table(path: str) -> Any:
    """A pyproject.toml's ``[tool.threadline]`` table; None when it has none."""
    tool = load_toml(path).get("tool")
    return tool.get("threadline") if isinstance(tool, dict) else None


def load_toml(path: str) -> dict[str, Any]:
    """The TOML document at ``path``; a :class:`UsageError` naming the file when it cannot be
    read or parsed."""
    import tomllib  # only when a file must be read: see the module docstring

    try:
        with open(path, "rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read settings from {path}: {exc}") from exc
    return data


def _kept(memo: str, stamp: list[int]) -> Any:
    """The table kept at ``memo`` for a file stamped ``stamp``, else :data:`_MISSING`."""
    try:
        fd = os.open(memo, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return _MISSING
    try:
        status = os.fstat(fd)
        # Anyone may create a file in the temporary folder: only this user's own, which
        # nobody else may have written, is believed.
        if status.st_uid != os.getuid() or status.st_mode & 0o022:
            return _MISSING
        content = b""
        while chunk := os.read(fd, 1 << 16):
            content += chunk
    except OSError:
        return _MISSING
    finally:
        os.close(fd)
    try:
        kept = json_object(content)
    except ValueError:
        return _MISSING  # cut short by a full disk, say: read the file instead
    return kept.get("table", _MISSING) if kept.get("stamp") == stamp else _MISSING


def _keep(memo: str, record: dict[str, Any]) -> None:
    """Write ``record`` to ``memo`` whole or not at all (written aside, then renamed)."""
    aside = f"{memo}.{os.getpid()}"
    try:
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError:
        return
    try:
        try:
            os.write(fd, compact_json(record))
        finally:
            os.close(fd)
        os.replace(aside, memo)
    except (OSError, ValueError, TypeError):
        try:  # noqa: SIM105 - contextlib is an import the launcher does without
            os.unlink(aside)
        except OSError:
            pass


def _plain(value: Any) -> bool:
    """Whether ``value`` comes back from JSON as it went in: TOML's dates and times do not
    (they would come back as text), nor do its infinities and NaN."""
    if isinstance(value, bool | int | str) or value is None:
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return False


__all__ = [
    "MEMO_PREFIX",
    "SETTLED_SECONDS",
    "find_settings_file",
    "load_toml",
    "memo_path",
    "settings_table",
]
