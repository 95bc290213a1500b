"""Settings: one registry, resolved once, in a documented order.

Precedence, highest first: an explicit argument > ``THREADLINE_*`` environment variable >
``threadline.toml`` or ``[tool.threadline]`` in ``pyproject.toml`` (nearest one upwards from the
working directory) > the default below.  The result is frozen; nothing here writes to
``os.environ``.  A bad value raises :class:`~threadline.errors.UsageError` naming the key.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from threadline.errors import UsageError


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any]

    @property
    def env(self) -> str:
        return "THREADLINE_" + self.name.upper()


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"{text!r} is not a boolean (use 1/0, true/false)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"{value} is not a positive integer")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(f"{value} is not a positive number")
    return value


def _server_url(text: str) -> str:
    import urllib.parse

    url = text.strip()
    parsed = urllib.parse.urlsplit(url)
    try:
        # urlsplit accepts any port text; only reading ``.port`` checks it.
        valid = parsed.scheme in ("http", "https") and bool(parsed.hostname) and parsed.port != 0
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(f"{text!r} is not an http(s) URL (e.g. http://lineage.internal:8765)")
    return url.rstrip("/")


SETTINGS: Final = (
    Setting("store", None, "Store path or URL (default .threadline/lineage.db).", str),
    Setting(
        "url",
        None,
        "threadline server to send lineage to instead of the store (spools while it is down).",
        _server_url,
    ),
    Setting("namespace", "default", "Namespace of jobs and in-memory datasets.", str),
    Setting("strict", False, "Return from capture only once events are durable (fsync).", _bool),
    Setting(
        "batch_window", 0.05, "Seconds the emitter waits to batch events (≤ 0.1).", _positive_float
    ),
    Setting(
        "queue_size", 10_000, "Events buffered before callers wait (back-pressure).", _positive_int
    ),
    Setting("batch_size", 1_000, "Events written per store transaction at most.", _positive_int),
    Setting("debug", False, "Log every capture hook call to stderr.", _bool),
)
_BY_NAME: Final = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    store: str | None = None
    url: str | None = None
    namespace: str = "default"
    strict: bool = False
    batch_window: float = 0.05
    queue_size: int = 10_000
    batch_size: int = 1_000
    debug: bool = False
    #: Raw ``[tool.threadline]`` / ``threadline.toml`` table, for sections such as labels.
    file: Mapping[str, Any] | None = None
    #: Folder of the settings file: relative globs in it are anchored here.
    source_dir: str | None = None


def _find_config_file(start: Path) -> tuple[Path, Mapping[str, Any]] | None:
    import tomllib

    for folder in (start, *start.parents):
        candidate = folder / "threadline.toml"
        if candidate.is_file():
            return candidate, _load_toml(candidate, tomllib)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            table = _load_toml(pyproject, tomllib).get("tool", {}).get("threadline")
            if isinstance(table, dict):
                return pyproject, table
    return None


def _load_toml(path: Path, tomllib: Any) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read settings from {path}: {exc}") from exc
    return data


def resolve(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve every setting once (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    found = _find_config_file((cwd or Path.cwd()).resolve())
    file_table: Mapping[str, Any] = found[1] if found else {}
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if overrides and overrides.get(setting.name) is not None:
            values[setting.name] = overrides[setting.name]
            continue
        raw_env = env.get(setting.env)
        if raw_env is not None:
            try:
                values[setting.name] = setting.parse(raw_env)
            except ValueError as exc:
                raise UsageError(f"{setting.env}={raw_env!r}: {exc}") from exc
            continue
        if setting.name in file_table:
            raw = file_table[setting.name]
            try:
                values[setting.name] = setting.parse(str(raw)) if not isinstance(raw, bool) else raw
            except ValueError as exc:
                where = found[0] if found else "settings file"
                raise UsageError(f"{where}: {setting.name} = {raw!r}: {exc}") from exc
            if setting.name == "store" and found and "://" not in str(raw):
                # A relative store path in a settings file is relative to that file.
                values["store"] = str((found[0].parent / str(raw)).resolve())
    unknown = set(overrides or {}) - {f.name for f in fields(Settings)}
    if unknown:
        raise UsageError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    return Settings(**values, file=file_table, source_dir=str(found[0].parent) if found else None)


def current() -> Settings:
    """``resolve()`` for the process as it is now, cached on the working directory and the
    ``THREADLINE_*`` variables (capture resolves settings once per run, which is often)."""
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("THREADLINE_")))
    return _cached(os.getcwd(), env)


@functools.lru_cache(maxsize=16)
def _cached(cwd: str, env: tuple[tuple[str, str], ...]) -> Settings:
    return resolve(environ=dict(env), cwd=Path(cwd))
