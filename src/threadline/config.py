"""Settings: one registry, resolved once, in a documented order.

Precedence, highest first: an explicit argument > ``THREADLINE_*`` environment variable >
``threadline.toml`` or ``[tool.threadline]`` in ``pyproject.toml`` (nearest one upwards from the
working directory) > the default.  Every default is written once, on :class:`Settings`; the
registry :data:`SETTINGS` adds each one's help text and how its text form is parsed and checked.
The result is frozen; nothing here writes to ``os.environ``, and no other module reads a
``THREADLINE_*`` setting variable.  A bad value raises :class:`~threadline.errors.UsageError`
naming the key and the value.

Every path uses the one object: the Python API, ``threadline run`` (launcher, supervisor and
child), every CLI command, :func:`threadline.open_store` and the server (whose worker processes
receive the resolved object through :data:`HANDOFF_ENV`, not a second settings system).
"""

from __future__ import annotations

import functools
import os

from threadline.errors import UsageError
from threadline.frozen import frozen_record, record_defaults, replace
from threadline.settings_files import find_settings_file

# Every run's launcher and supervisor resolve settings, so this module imports neither typing
# (~3 ms) nor re, json, pathlib and urllib.parse (~10 ms of CPU together, with the enums and
# modules they bring): the few URL settings parse with urllib.parse when they are set.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Final

    #: A folder or file path as the callers hold it.
    PathText = str | os.PathLike[str]

MiB: Final = 1024 * 1024
#: Where the embedded store lives when no setting names one (relative to the working directory).
DEFAULT_STORE: Final = ".threadline/lineage.db"
#: How ``threadline serve --workers N`` hands its resolved settings to its worker processes.
HANDOFF_ENV: Final = "THREADLINE_SERVER_SETTINGS"


def store_url(target: str | os.PathLike[str] | None, cwd: PathText | None = None) -> str:
    """The store URL for a path or URL (``None`` is the default path under ``cwd``).

    Plain paths become ``sqlite:///ABSOLUTE``; ``postgres://`` and ``postgresql://`` become
    ``postgresql+psycopg://`` (the driver threadline installs).
    """
    raw = os.fspath(target) if target is not None else DEFAULT_STORE
    if "://" in raw:
        for alias in ("postgres://", "postgresql://"):
            if raw.startswith(alias):
                return "postgresql+psycopg://" + raw[len(alias) :]
        return raw
    path = os.path.expanduser(raw)
    if not os.path.isabs(path):
        path = os.path.join(os.fspath(cwd) if cwd else os.getcwd(), path)
    return "sqlite:///" + os.path.realpath(path)


@frozen_record
class Settings:
    """The resolved settings; the defaults here are the only ones."""

    store: str | None = None
    url: str | None = None
    #: None: derived from the project (see :mod:`threadline.capture.project`).
    namespace: str | None = None
    strict: bool = False
    #: ``threadline run``: seconds a store's writer agent stays up with nothing to do; 0: none
    #: (each run's supervisor opens the store itself).
    agent_idle_seconds: float = 60.0
    batch_window: float = 0.05
    queue_size: int = 10_000
    batch_size: int = 1_000
    debug: bool = False
    #: Share of a captured process's time that following data through frame operations may
    #: cost before capture stops following (1: no limit); see capture.hooks.flow_budget.
    flow_budget: float = 0.01
    max_body_bytes: int = 5 * MiB
    max_batch_bytes: int = 64 * MiB
    max_batch_events: int = 100_000
    batch_chunk_events: int = 5_000
    #: Server: processes reviewing large batches in parallel; None: one per core (at most 4,
    #: none on a single core); 0: none.
    review_processes: int | None = None
    strict_ingest: bool = False
    group_commit_events: int = 5_000
    store_cache_bytes: int = 16 * MiB
    stream_poll_seconds: float = 0.15
    stream_max_connections: int = 1_000
    stream_max_per_client: int = 100
    stream_read_threads: int = 2
    publish: str | None = None
    publish_subject: str = "threadline.events"
    host: str = "127.0.0.1"
    port: int = 8765
    workers: int = 1
    #: Ed25519 private key (from threadline keygen) that signs checkpoints; None: no signing.
    checkpoint_key: str | None = None
    #: Server: seconds between scheduled signed checkpoints (taken only when the log grew).
    checkpoint_every_seconds: float = 300.0
    #: Server: seconds between scheduled health checks (which also deliver alerts); 0: none.
    health_every_seconds: float = 60.0
    #: Health: a run still open (START/RUNNING) this many seconds after its last event never ended.
    health_stale_run_seconds: float = 86_400.0
    #: Health: population stability index of a numeric column above which it has drifted.
    drift_psi_threshold: float = 0.2
    #: Health: change in any category's share (0-1) above which a categorical column drifted.
    drift_share_threshold: float = 0.1
    #: Alerts: SQLite file keeping which findings were alerted and every delivery attempt.
    alert_state: str = ".threadline/alerts.db"
    #: Lifecycle: folder of archive files; None: ``archive/`` beside an SQLite store's file,
    #: ``.threadline/archive`` for PostgreSQL.
    archive_dir: str | None = None
    #: Server: require a token or an OIDC bearer JWT on every request (default deny).
    auth: bool = False
    #: Server: OIDC issuer (``iss``) whose bearer JWTs are accepted; None: tokens only.
    oidc_issuer: str | None = None
    #: Server: the audience (``aud``) an accepted JWT must name.
    oidc_audience: str | None = None
    #: Server: the issuer's JWKS URL (its signing keys).
    oidc_jwks_url: str | None = None
    #: Server: JWT claim listing ``role:namespace`` grants (``["viewer:*", "producer:fraud"]``).
    oidc_roles_claim: str = "threadline_roles"
    #: Server: JWT claim listing classification clearances (``["pii"]``).
    oidc_clearances_claim: str = "threadline_clearances"
    #: Server: seconds of clock skew allowed on a JWT's exp, nbf and iat.
    oidc_leeway_seconds: float = 60.0
    #: Server: origins whose cross-origin requests are answered (none by default).
    allowed_origins: tuple[str, ...] = ()
    #: Server: Host header names answered besides localhost, 127.0.0.1, ::1 and the bound host.
    allowed_hosts: tuple[str, ...] = ()
    #: Environment variables that are part of an execution's identity (recorded as parameters).
    identity_env: tuple[str, ...] = ()
    #: The normalized store URL (``store``, or the default path); filled in when left empty.
    store_url: str = ""
    #: Raw ``[tool.threadline]`` / ``threadline.toml`` table, for sections such as labels.
    file: Mapping[str, Any] | None = None
    #: Folder of the settings file: relative globs in it are anchored here.
    source_dir: str | None = None

    def __post_init__(self) -> None:
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            try:
                problem = setting.check(value)
            except TypeError:
                # An explicit argument of the wrong type (the text forms are parsed first).
                problem = f"{value!r} is not a {setting.kind}"
            if problem:
                raise UsageError(f"setting {setting.name} = {value!r}: {problem}")
        if not self.store_url:
            object.__setattr__(self, "store_url", store_url(self.store))
        for name in _LIST_SETTINGS:
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, _names(value))
            elif not isinstance(value, tuple):
                # JSON (the server's hand-over) has lists only.
                object.__setattr__(self, name, tuple(value))

    def to_json(self) -> str:
        """The registry's values as JSON, with the settings file's table and folder (its
        alert rules, labels and policies); TOML dates in the table travel as text."""
        import json

        return json.dumps(
            {s.name: getattr(self, s.name) for s in SETTINGS}
            | {
                "store_url": self.store_url,
                "file": dict(self.file) if self.file is not None else None,
                "source_dir": self.source_dir,
            },
            sort_keys=True,
            default=str,
        )

    @classmethod
    def from_json(cls, text: str) -> Settings:
        import json

        try:
            raw = json.loads(text)
            known = {s.name for s in SETTINGS} | {"store_url", "file", "source_dir"}
            return cls(**{k: v for k, v in raw.items() if k in known})
        except (ValueError, TypeError, AttributeError) as exc:
            raise UsageError(f"{HANDOFF_ENV} is not valid settings JSON: {exc}") from exc


def _no_check(value: Any) -> str | None:
    return None


@frozen_record
class Setting:
    name: str
    help: str
    parse: Callable[[str], Any]
    check: Callable[[Any], str | None] = _no_check

    @property
    def env(self) -> str:
        return "THREADLINE_" + self.name.upper()

    @property
    def default(self) -> Any:
        return record_defaults(Settings).get(self.name)

    @property
    def kind(self) -> str:
        """The value's type as written on :class:`Settings` (``int``, ``str``…), for errors."""
        annotation = str(Settings.__annotations__[self.name])
        return annotation.removesuffix(" | None")


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"{text!r} is not a boolean (use 1/0, true/false)")


def _positive(value: Any) -> str | None:
    return None if value > 0 else f"{value} is not positive"


def _positive_at_most_one(value: Any) -> str | None:
    return None if 0 < value <= 1 else f"{value} is not in (0, 1]"


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else f"{value} is negative"


def _unset_or_not_negative(value: Any) -> str | None:
    return None if value is None else _not_negative(value)


def _fraction(value: Any) -> str | None:
    return None if 0 < value < 1 else f"{value} is not in (0, 1)"


def _port(value: Any) -> str | None:
    return None if 0 <= value <= 65535 else f"{value} is not a port (0-65535)"


_ASCII_WORD: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
#: A namespace is the authority of ``threadline://NS/…`` and comes before the first ``/`` of a
#: job id, so it holds none of ``/ @ :`` and no space.
_NAMESPACE_CHARACTERS: Final = _ASCII_WORD | frozenset(".~+=;-")
#: What a NATS subject's dot-separated tokens are made of.
_SUBJECT_CHARACTERS: Final = _ASCII_WORD | frozenset("-")


def _made_of(text: str, allowed: frozenset[str]) -> bool:
    """Whether ``text`` is one or more of the ``allowed`` characters."""
    return bool(text) and all(character in allowed for character in text)


def _namespace(value: Any) -> str | None:
    if value is None or _made_of(value, _NAMESPACE_CHARACTERS):
        return None
    return "a namespace is one word of letters, digits and . _ ~ + = ; - (no / @ : or space)"


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated list of environment variable names (``SEED,RUN_DATE``)."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _is_variable_name(name: object) -> bool:
    """``[A-Za-z_][A-Za-z0-9_]*``."""
    return isinstance(name, str) and _made_of(name, _ASCII_WORD) and not name[0].isdigit()


def _variable_names(value: Any) -> str | None:
    names = _names(value) if isinstance(value, str) else value
    bad = [name for name in names if not _is_variable_name(name)]
    return f"{', '.join(map(repr, bad))} is not a variable name" if bad else None


def _words(value: Any) -> str | None:
    names = _names(value) if isinstance(value, str) else value
    bad = [name for name in names if not isinstance(name, str) or not name or " " in name]
    return f"{', '.join(map(repr, bad))} is not a name without spaces" if bad else None


def _issuer(text: str) -> str:
    import urllib.parse

    url = text.strip()
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"{text!r} is not an http(s) URL (e.g. https://login.example.com/)")
    return url


def _issuer_check(value: Any) -> str | None:
    if value is None:
        return None
    try:
        _issuer(value)
    except ValueError as exc:
        return str(exc)
    return None


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


def _broker_url(text: str) -> str:
    import urllib.parse

    url = text.strip()
    parsed = urllib.parse.urlsplit(url)
    try:
        valid = parsed.scheme in ("nats", "tls") and bool(parsed.hostname) and parsed.port != 0
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(f"{text!r} is not a NATS URL (e.g. nats://127.0.0.1:4222)")
    return url


def _broker_url_check(value: Any) -> str | None:
    if value is None:
        return None
    try:
        _broker_url(value)
    except ValueError as exc:
        return str(exc)
    return None


def _subject(value: Any) -> str | None:
    """A NATS subject: dot-separated tokens without spaces or wildcards."""
    if all(_made_of(token, _SUBJECT_CHARACTERS) for token in value.split(".")):
        return None
    return "a subject is dot-separated words of letters, digits, _ and - (no wildcards)"


SETTINGS: Final = (
    Setting("store", f"Store path or URL (default {DEFAULT_STORE}).", str),
    Setting(
        "url",
        "threadline server to send lineage to instead of the store (spools while it is down).",
        _server_url,
    ),
    Setting(
        "namespace",
        "Namespace of jobs and in-memory datasets (default: derived from the git repository's "
        "origin remote or root folder, else the working directory).",
        str,
        _namespace,
    ),
    Setting("strict", "Return from capture only once events are durable (fsync).", _bool),
    Setting(
        "agent_idle_seconds",
        "threadline run: seconds the store's writer agent (one long-lived process per store "
        "that writes what runs capture) waits for more work before it exits; 0: no agent, each "
        "run opens the store itself.",
        float,
        _not_negative,
    ),
    Setting("batch_window", "Seconds the emitter waits to batch events (≤ 0.1).", float, _positive),
    Setting("queue_size", "Events buffered before callers wait (back-pressure).", int, _positive),
    Setting("batch_size", "Events written per store transaction at most.", int, _positive),
    Setting("debug", "Log every capture hook call to stderr.", _bool),
    Setting(
        "flow_budget",
        "Share of a captured process's time that following data through frame operations "
        "may cost; past it (and past a quarter of a second), capture stops following and "
        "what the process writes derives from every file it read (1: always follow).",
        float,
        _positive_at_most_one,
    ),
    Setting("max_body_bytes", "Server: largest single-event body (413 above).", int, _positive),
    Setting("max_batch_bytes", "Server: largest batch body (413 above).", int, _positive),
    Setting("max_batch_events", "Server: most events in one batch (413 above).", int, _positive),
    Setting(
        "batch_chunk_events",
        "Server: events of a large NDJSON batch parsed and appended at a time (the batch "
        "stays one transaction; memory grows with the chunk, not the batch).",
        int,
        _positive,
    ),
    Setting(
        "review_processes",
        "Server: processes that review large NDJSON batches in parallel, each a slice, while "
        "the server appends (default: one per core, at most 4, none on a single core; 0: "
        "every batch is reviewed in the server process).",
        int,
        _unset_or_not_negative,
    ),
    Setting(
        "strict_ingest",
        "Server and import: refuse every OpenLineage schema deviation (400), not only what "
        "lineage cannot use (the others are accepted with a note).",
        _bool,
    ),
    Setting(
        "group_commit_events",
        "Server: most events the writer combines into one store transaction.",
        int,
        _positive,
    ),
    Setting(
        "store_cache_bytes",
        "Memory each of the store's row-id caches may take, in bytes (estimated).",
        int,
        _positive,
    ),
    Setting(
        "stream_poll_seconds",
        "Server: how often the change stream polls for other processes' commits.",
        float,
        _positive_at_most_one,
    ),
    Setting(
        "stream_max_connections",
        "Server: most change streams open at once (503 with Retry-After above).",
        int,
        _positive,
    ),
    Setting(
        "stream_max_per_client",
        "Server: most change streams open at once from one client address (503 above).",
        int,
        _positive,
    ),
    Setting(
        "stream_read_threads",
        "Server: threads reading the store for change streams, apart from ingest's, so "
        "streams replaying old cursors cannot starve ingest.",
        int,
        _positive,
    ),
    Setting(
        "publish",
        "Server: also publish the change stream to this NATS JetStream server "
        "(nats://host:4222; message id = the log's sequence number).",
        _broker_url,
        _broker_url_check,
    ),
    Setting(
        "publish_subject",
        "Server: the NATS subject the change stream is published on.",
        str,
        _subject,
    ),
    Setting("host", "Server: address to listen on.", str),
    Setting("port", "Server: port to listen on.", int, _port),
    Setting(
        "workers", "Server: worker processes (each polls the store for the stream).", int, _positive
    ),
    Setting(
        "checkpoint_key",
        "Ed25519 private key file (threadline keygen) that signs checkpoints; the server signs "
        "one on a schedule only when this is set.",
        str,
    ),
    Setting(
        "checkpoint_every_seconds",
        "Server: seconds between signed checkpoints (one is taken only if the log grew).",
        float,
        _positive,
    ),
    Setting(
        "health_every_seconds",
        "Server: seconds between scheduled health checks (each also delivers alerts); 0 turns "
        "the schedule off (alert rules still check after events).",
        float,
        _not_negative,
    ),
    Setting(
        "health_stale_run_seconds",
        "Health: a run still open this many seconds after its last event never ended.",
        float,
        _positive,
    ),
    Setting(
        "drift_psi_threshold",
        "Health: population stability index of a numeric column above which it drifted.",
        float,
        _positive,
    ),
    Setting(
        "drift_share_threshold",
        "Health: change in a category's share (0-1) above which a categorical column drifted.",
        float,
        _fraction,
    ),
    Setting(
        "alert_state",
        "Alerts: SQLite file that keeps which findings were alerted and every delivery attempt "
        "(relative paths: to the working directory).",
        str,
    ),
    Setting(
        "archive_dir",
        "Lifecycle: folder of the archive files threadline gc writes for archive rules and "
        "reads archived records from (default: archive/ beside an SQLite store, "
        ".threadline/archive for PostgreSQL).",
        str,
    ),
    Setting(
        "auth",
        "Server: require an API token (threadline token create) or an OIDC bearer JWT on every "
        "request; roles per namespace decide what each may do (default deny).",
        _bool,
    ),
    Setting(
        "oidc_issuer", "Server: OIDC issuer whose bearer JWTs are accepted.", _issuer, _issuer_check
    ),
    Setting("oidc_audience", "Server: audience (aud) an accepted JWT must name.", str),
    Setting(
        "oidc_jwks_url",
        "Server: the OIDC issuer's JWKS URL (its signing keys).",
        _issuer,
        _issuer_check,
    ),
    Setting(
        "oidc_roles_claim",
        "Server: JWT claim listing role:namespace grants (viewer, producer, steward, admin; "
        "namespace * for all).",
        str,
    ),
    Setting(
        "oidc_clearances_claim",
        "Server: JWT claim listing classification clearances (pii…).",
        str,
    ),
    Setting(
        "oidc_leeway_seconds",
        "Server: clock skew allowed on a JWT's expiry and not-before times.",
        float,
        lambda value: None if value >= 0 else f"{value} is negative",
    ),
    Setting(
        "allowed_origins",
        "Server: origins (https://app.example.com) whose cross-origin requests are answered; "
        "others are refused (403).",
        _names,
        _words,
    ),
    Setting(
        "allowed_hosts",
        "Server: Host header names answered besides localhost, 127.0.0.1, ::1 and the bound "
        "host; others are refused (DNS rebinding).",
        _names,
        _words,
    ),
    Setting(
        "identity_env",
        "Environment variables whose values are part of an execution's identity, like the "
        "command line (a list in threadline.toml, comma-separated in the variable).",
        _names,
        _variable_names,
    ),
)
_BY_NAME: Final = {setting.name: setting for setting in SETTINGS}
#: Settings holding a list: comma-separated in a variable, a TOML array in the file.
_LIST_SETTINGS: Final = ("identity_env", "allowed_origins", "allowed_hosts")


def _parsed(setting: Setting, raw: Any, where: str) -> Any:
    value: Any
    try:
        if isinstance(raw, list) and setting.name in _LIST_SETTINGS:
            value = tuple(str(item) for item in raw)
        elif isinstance(raw, bool):
            # TOML's true/false suit only the boolean settings (a text one would take 'True').
            if setting.parse is not _bool:
                raise ValueError(f"{raw!r} is not a {setting.kind}")
            value = raw
        else:
            value = setting.parse(str(raw))
        problem = setting.check(value)
        if problem:
            raise ValueError(problem)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from exc
    return value


def resolve(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: PathText | None = None,
) -> Settings:
    """Resolve every setting once (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    unknown = set(overrides or {}) - set(_BY_NAME)
    if unknown:
        raise UsageError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    here = _folder(cwd)
    found = find_settings_file(here)
    file_table: Mapping[str, Any] = found[1] if found else {}
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if overrides and overrides.get(setting.name) is not None:
            values[setting.name] = overrides[setting.name]
        elif (raw_env := env.get(setting.env)) is not None:
            values[setting.name] = _parsed(setting, raw_env, f"{setting.env}={raw_env!r}")
        elif setting.name in file_table:
            raw = file_table[setting.name]
            where = f"{found[0] if found else 'settings file'}: {setting.name} = {raw!r}"
            values[setting.name] = _parsed(setting, raw, where)
            if setting.name == "store" and found and "://" not in str(raw):
                # A relative store path in a settings file is relative to that file.
                values["store"] = os.path.realpath(
                    os.path.join(os.path.dirname(found[0]), str(raw))
                )
    return Settings(
        **values,
        store_url=store_url(values.get("store"), here),
        file=file_table,
        source_dir=os.path.dirname(found[0]) if found else None,
    )


def _folder(cwd: PathText | None) -> str:
    """The absolute, resolved folder settings are looked for from (the working one by default)."""
    return os.path.realpath(os.fspath(cwd) if cwd else os.getcwd())


def origins(
    *, environ: Mapping[str, str] | None = None, cwd: PathText | None = None
) -> dict[str, str]:
    """Where each setting's value comes from, in the order :func:`resolve` follows: the
    environment variable's name, the settings file's path, or ``default``."""
    env = os.environ if environ is None else environ
    found = find_settings_file(_folder(cwd))
    file_table: Mapping[str, Any] = found[1] if found else {}
    where: dict[str, str] = {}
    for setting in SETTINGS:
        if env.get(setting.env) is not None:
            where[setting.name] = setting.env
        elif found and setting.name in file_table:
            where[setting.name] = str(found[0])
        else:
            where[setting.name] = "default"
    return where


def current(cwd: str | None = None) -> Settings:
    """``resolve()`` for the process as it is now, cached on the working directory and the
    ``THREADLINE_*`` variables (capture resolves settings once per run, which is often).
    ``cwd``: the folder to look for the settings file from instead of the working directory
    (where the process started, when capture starts later)."""
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("THREADLINE_")))
    return _cached(cwd or os.getcwd(), env)


@functools.lru_cache(maxsize=16)
def _cached(cwd: str, env: tuple[tuple[str, str], ...]) -> Settings:
    return resolve(environ=dict(env), cwd=cwd)


def handed_over(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings a ``threadline serve`` supervisor handed to this worker process, or, in a
    process started some other way, :func:`current`."""
    env = os.environ if environ is None else environ
    text = env.get(HANDOFF_ENV)
    return Settings.from_json(text) if text else current()


def with_overrides(settings: Settings, **explicit: Any) -> Settings:
    """``settings`` with the explicit (non-``None``) values given; the store URL follows."""
    chosen = {k: v for k, v in explicit.items() if v is not None}
    if "store" in chosen:
        chosen["store_url"] = store_url(chosen["store"])
    return replace(settings, **chosen)


__all__ = [
    "DEFAULT_STORE",
    "HANDOFF_ENV",
    "SETTINGS",
    "Setting",
    "Settings",
    "current",
    "handed_over",
    "origins",
    "resolve",
    "store_url",
    "with_overrides",
]
