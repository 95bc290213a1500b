"""Settings resolution (:mod:`threadline.config`): one registry, one order, one frozen object.

The order, highest first: explicit argument > ``THREADLINE_*`` > ``threadline.toml`` /
``[tool.threadline]`` (nearest upwards) > the default.  Every test passes its own environ
mapping; none reads or writes the process environment.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import pytest

from threadline.config import (
    DEFAULT_STORE,
    HANDOFF_ENV,
    SETTINGS,
    Settings,
    handed_over,
    resolve,
    store_url,
    with_overrides,
)
from threadline.errors import UsageError
from threadline.frozen import FrozenRecordError, record_fields

SRC = Path(__file__).resolve().parents[1] / "src" / "threadline"
#: Fields of Settings that are not settings of their own (derived, or the raw file table).
NOT_SETTINGS = {"store_url", "file", "source_dir"}


# --- the registry ----------------------------------------------------------------------------


def test_the_registry_and_the_settings_object_name_the_same_settings() -> None:
    fields = set(record_fields(Settings)) - NOT_SETTINGS
    assert [s.name for s in SETTINGS] == [
        name for name in record_fields(Settings) if name in fields
    ]
    for setting in SETTINGS:
        assert setting.env == "THREADLINE_" + setting.name.upper()
        assert setting.help


def test_defaults_are_written_once_on_settings(tmp_path: Path) -> None:
    resolved = resolve(environ={}, cwd=tmp_path)
    for setting in SETTINGS:
        assert (
            setting.default == getattr(Settings(), setting.name) == getattr(resolved, setting.name)
        )
    assert resolved.store is None
    assert resolved.store_url == "sqlite:///" + str((tmp_path / DEFAULT_STORE).resolve())
    assert resolved.file == {}
    assert resolved.source_dir is None


def test_the_resolved_object_is_frozen(tmp_path: Path) -> None:
    settings = resolve(environ={}, cwd=tmp_path)
    with pytest.raises(FrozenRecordError):
        settings.namespace = "other"  # type: ignore[misc]


def test_resolving_never_writes_the_environment(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('store = "x.db"\nport = 9000\n')
    before = dict(os.environ)
    resolve({"namespace": "n"}, environ={"THREADLINE_QUEUE_SIZE": "5"}, cwd=tmp_path)
    assert dict(os.environ) == before


# --- the order -------------------------------------------------------------------------------

#: (setting, in the file, in the environment, explicit, resolved from file, from env)
ORDER: list[tuple[str, Any, str, Any, Any, Any]] = [
    ("namespace", '"from-file"', "from-env", "explicit", "from-file", "from-env"),
    ("strict", "true", "0", True, True, False),
    ("agent_idle_seconds", "5", "0", 1.0, 5.0, 0.0),
    ("debug", '"yes"', "off", True, True, False),
    ("batch_window", "0.02", "0.03", 0.04, 0.02, 0.03),
    ("flow_budget", "0.5", "0.02", 1.0, 0.5, 0.02),
    ("queue_size", "11", "12", 13, 11, 12),
    ("batch_size", "21", "22", 23, 21, 22),
    ("max_body_bytes", "100", "200", 300, 100, 200),
    ("max_batch_bytes", "101", "201", 301, 101, 201),
    ("max_batch_events", "7", "8", 9, 7, 8),
    ("batch_chunk_events", "17", "18", 19, 17, 18),
    ("review_processes", "3", "0", 1, 3, 0),
    ("strict_ingest", "true", "0", True, True, False),
    ("group_commit_events", "70", "80", 90, 70, 80),
    ("store_cache_bytes", "1024", "2048", 4096, 1024, 2048),
    ("stream_poll_seconds", "0.5", "0.25", 1.0, 0.5, 0.25),
    ("stream_max_connections", "31", "32", 33, 31, 32),
    ("stream_max_per_client", "41", "42", 43, 41, 42),
    ("stream_read_threads", "3", "4", 5, 3, 4),
    (
        "publish",
        '"nats://a:4222"',
        "nats://b:4222",
        "tls://c:4222",
        "nats://a:4222",
        "nats://b:4222",
    ),
    ("publish_subject", '"lineage.a"', "lineage.b", "lineage.c", "lineage.a", "lineage.b"),
    ("host", '"0.0.0.0"', "::1", "localhost", "0.0.0.0", "::1"),
    ("port", "9001", "9002", 9003, 9001, 9002),
    ("workers", "2", "3", 4, 2, 3),
    ("checkpoint_key", '"a.key"', "b.key", "c.key", "a.key", "b.key"),
    ("checkpoint_every_seconds", "60", "30.5", 10.0, 60.0, 30.5),
    ("health_every_seconds", "5", "0", 1.0, 5.0, 0.0),
    ("health_stale_run_seconds", "60", "30", 10.0, 60.0, 30.0),
    ("drift_psi_threshold", "0.3", "0.25", 0.5, 0.3, 0.25),
    ("drift_share_threshold", "0.2", "0.15", 0.05, 0.2, 0.15),
    ("alert_state", '"a.db"', "b.db", "c.db", "a.db", "b.db"),
    ("archive_dir", '"a/archive"', "b/archive", "c/archive", "a/archive", "b/archive"),
    ("auth", "true", "0", True, True, False),
    (
        "oidc_issuer",
        '"https://a.test"',
        "https://b.test",
        "https://c.test",
        "https://a.test",
        "https://b.test",
    ),
    ("oidc_audience", '"aud-a"', "aud-b", "aud-c", "aud-a", "aud-b"),
    (
        "oidc_jwks_url",
        '"https://a.test/jwks"',
        "https://b.test/jwks",
        "https://c.test/jwks",
        "https://a.test/jwks",
        "https://b.test/jwks",
    ),
    ("oidc_roles_claim", '"roles_a"', "roles_b", "roles_c", "roles_a", "roles_b"),
    ("oidc_clearances_claim", '"cl_a"', "cl_b", "cl_c", "cl_a", "cl_b"),
    ("oidc_leeway_seconds", "5", "0", 1.5, 5.0, 0.0),
    (
        "allowed_origins",
        '["https://a.test"]',
        "https://b.test, https://c.test",
        ("https://d.test",),
        ("https://a.test",),
        ("https://b.test", "https://c.test"),
    ),
    ("allowed_hosts", '["lineage.a"]', "lineage.b", ("lineage.c",), ("lineage.a",), ("lineage.b",)),
    ("identity_env", '["SEED", "RUN_DATE"]', "A, B", ("C",), ("SEED", "RUN_DATE"), ("A", "B")),
]


def test_the_order_covers_every_setting_but_store_and_url() -> None:
    # store and url have tests of their own below (paths, URLs).
    assert {row[0] for row in ORDER} == {s.name for s in SETTINGS} - {"store", "url"}


@pytest.mark.parametrize(("name", "in_file", "in_env", "explicit", "from_file", "from_env"), ORDER)
def test_explicit_over_environment_over_file_over_default(
    tmp_path: Path,
    name: str,
    in_file: str,
    in_env: str,
    explicit: Any,
    from_file: Any,
    from_env: Any,
) -> None:
    default = getattr(Settings(), name)
    env_name = "THREADLINE_" + name.upper()
    assert getattr(resolve(environ={}, cwd=tmp_path), name) == default
    (tmp_path / "threadline.toml").write_text(f"{name} = {in_file}\n")
    assert getattr(resolve(environ={}, cwd=tmp_path), name) == from_file
    env = {env_name: in_env}
    assert getattr(resolve(environ=env, cwd=tmp_path), name) == from_env
    assert getattr(resolve({name: explicit}, environ=env, cwd=tmp_path), name) == explicit
    # An explicit None means "not given": the next source decides.
    assert getattr(resolve({name: None}, environ=env, cwd=tmp_path), name) == from_env


def test_the_nearest_settings_file_upwards_wins(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('namespace = "outer"\n')
    inner = tmp_path / "a"
    deeper = inner / "b" / "c"
    deeper.mkdir(parents=True)
    assert resolve(environ={}, cwd=deeper).namespace == "outer"
    (inner / "pyproject.toml").write_text('[tool.threadline]\nnamespace = "inner"\n')
    settings = resolve(environ={}, cwd=deeper)
    assert settings.namespace == "inner"
    assert settings.source_dir == str(inner.resolve())
    assert settings.file == {"namespace": "inner"}


def test_a_pyproject_without_a_threadline_table_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('namespace = "outer"\n')
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "pkg"\n')
    assert resolve(environ={}, cwd=inner).namespace == "outer"


def test_threadline_toml_wins_over_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('namespace = "toml"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.threadline]\nnamespace = "pyproject"\n')
    assert resolve(environ={}, cwd=tmp_path).namespace == "toml"


def test_other_tables_of_the_file_stay_available(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('[labels]\n"data/*.csv" = ["raw"]\n')
    assert resolve(environ={}, cwd=tmp_path).file == {"labels": {"data/*.csv": ["raw"]}}


# --- the store -------------------------------------------------------------------------------


def test_a_relative_store_in_the_file_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('store = "elsewhere/l.db"\n')
    sub = tmp_path / "notebooks"
    sub.mkdir()
    settings = resolve(environ={}, cwd=sub)
    expected = (tmp_path / "elsewhere" / "l.db").resolve()
    assert settings.store == str(expected)
    assert settings.store_url == "sqlite:///" + str(expected)


def test_a_relative_store_from_the_environment_or_an_argument_is_relative_to_the_cwd(
    tmp_path: Path,
) -> None:
    (tmp_path / "threadline.toml").write_text('store = "from-file.db"\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    env = {"THREADLINE_STORE": "from-env.db"}
    assert resolve(environ=env, cwd=sub).store_url == "sqlite:///" + str(sub / "from-env.db")
    explicit = resolve({"store": "arg.db"}, environ=env, cwd=sub)
    assert explicit.store_url == "sqlite:///" + str(sub / "arg.db")


def test_the_default_store_is_under_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('namespace = "n"\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    assert resolve(environ={}, cwd=sub).store_url == "sqlite:///" + str(sub / DEFAULT_STORE)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////abs/l.db", "sqlite:////abs/l.db"),
    ],
)
def test_store_urls_are_normalized(tmp_path: Path, given: str, expected: str) -> None:
    assert store_url(given) == expected
    (tmp_path / "threadline.toml").write_text(f'store = "{given}"\n')
    # A URL in the settings file is taken as it is, not as a path next to the file.
    assert resolve(environ={}, cwd=tmp_path).store_url == expected
    assert resolve(environ={"THREADLINE_STORE": given}, cwd=tmp_path).store_url == expected


def test_with_overrides_applies_explicit_values_and_follows_the_store(tmp_path: Path) -> None:
    base = resolve(environ={"THREADLINE_STORE": str(tmp_path / "a.db")}, cwd=tmp_path)
    same = with_overrides(base, store=None, port=None)
    assert same == base
    moved = with_overrides(base, store=str(tmp_path / "b.db"), port=9999)
    assert moved.store_url == "sqlite:///" + str(tmp_path / "b.db")
    assert moved.port == 9999
    with pytest.raises(UsageError, match=r"setting port = 70000"):
        with_overrides(base, port=70000)


# --- errors name the key and the value -------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("THREADLINE_QUEUE_SIZE", "many", r"THREADLINE_QUEUE_SIZE='many'"),
        ("THREADLINE_QUEUE_SIZE", "0", r"THREADLINE_QUEUE_SIZE='0': 0 is not positive"),
        ("THREADLINE_BATCH_WINDOW", "-1", r"THREADLINE_BATCH_WINDOW='-1': -1.0 is not positive"),
        ("THREADLINE_STRICT", "maybe", r"THREADLINE_STRICT='maybe': 'maybe' is not a boolean"),
        ("THREADLINE_STREAM_POLL_SECONDS", "2", r"THREADLINE_STREAM_POLL_SECONDS='2'.*\(0, 1\]"),
        ("THREADLINE_PORT", "65536", r"THREADLINE_PORT='65536': 65536 is not a port"),
        ("THREADLINE_WORKERS", "0", r"THREADLINE_WORKERS='0'"),
        ("THREADLINE_MAX_BODY_BYTES", "1e3", r"THREADLINE_MAX_BODY_BYTES='1e3'"),
        ("THREADLINE_STREAM_MAX_PER_CLIENT", "0", r"THREADLINE_STREAM_MAX_PER_CLIENT='0'"),
        ("THREADLINE_PUBLISH", "http://x:4222", r"THREADLINE_PUBLISH='http://x:4222'.*not a NATS"),
        ("THREADLINE_PUBLISH_SUBJECT", "a.*", r"THREADLINE_PUBLISH_SUBJECT='a\.\*'.*wildcards"),
        ("THREADLINE_HEALTH_EVERY_SECONDS", "-1", r"HEALTH_EVERY_SECONDS='-1': -1\.0 is negative"),
        ("THREADLINE_FLOW_BUDGET", "0", r"THREADLINE_FLOW_BUDGET='0': 0\.0 is not in \(0, 1\]"),
        (
            "THREADLINE_DRIFT_SHARE_THRESHOLD",
            "1",
            r"DRIFT_SHARE_THRESHOLD='1': 1\.0 is not in \(0, 1\)",
        ),
    ],
)
def test_a_bad_variable_names_itself_and_its_value(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        resolve(environ={variable: value}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("queue_size = -3", r"threadline\.toml: queue_size = -3: -3 is not positive"),
        ("batch_size = 1.5", r"threadline\.toml: batch_size = 1\.5"),
        ("port = true", r"threadline\.toml: port = True: True is not a int"),
        ("namespace = false", r"threadline\.toml: namespace = False: False is not a str"),
        ('namespace = "acme/churn"', r"namespace = 'acme/churn': a namespace is one word"),
        (
            'identity_env = ["SEED", "1X"]',
            r"identity_env = \['SEED', '1X'\]: '1X' is not a variable",
        ),
        ('strict = "sometimes"', r"threadline\.toml: strict = 'sometimes'"),
    ],
)
def test_a_bad_value_in_the_file_names_the_file_the_key_and_the_value(
    tmp_path: Path, line: str, message: str
) -> None:
    (tmp_path / "threadline.toml").write_text(line + "\n")
    with pytest.raises(UsageError, match=message):
        resolve(environ={}, cwd=tmp_path)


def test_a_bad_explicit_value_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"setting max_body_bytes = 0: 0 is not positive"):
        resolve({"max_body_bytes": 0}, environ={}, cwd=tmp_path)
    with pytest.raises(UsageError, match=r"setting port = '80': '80' is not a int"):
        Settings(port="80")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("setting", "value", "ok"),
    [
        ("namespace", "acme.churn_2~x+y=z;w-v", True),
        ("namespace", "acme\n", False),  # a regex's `$` let the newline through
        ("namespace", "acmé", False),
        ("namespace", "", False),
        ("identity_env", ("SEED", "_RUN2"), True),
        ("identity_env", ("SEED\n",), False),
        ("identity_env", ("2SEED",), False),
        ("identity_env", ("SÉED",), False),
        ("publish_subject", "threadline.events-1", True),
        ("publish_subject", "threadline..events", False),
        ("publish_subject", "threadline.events\n", False),
        ("publish_subject", "threadline.>", False),
    ],
)
def test_names_are_checked_character_by_character(setting: str, value: object, ok: bool) -> None:
    if ok:
        assert getattr(Settings(**{setting: value}), setting) == value
    else:
        with pytest.raises(UsageError, match=f"setting {setting} = "):
            Settings(**{setting: value})


def test_an_unknown_explicit_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown setting\(s\): colour"):
        resolve({"colour": "blue"}, environ={}, cwd=tmp_path)


def test_an_unreadable_settings_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text("store = \n")
    with pytest.raises(UsageError, match=r"cannot read settings from .*threadline\.toml"):
        resolve(environ={}, cwd=tmp_path)


# --- the url setting (remote capture) --------------------------------------------------------


def test_url_defaults_to_none(tmp_path: Path) -> None:
    assert resolve(environ={}, cwd=tmp_path).url is None


def test_url_comes_from_the_environment_over_the_settings_file(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('url = "http://from-file:8765/"\n')
    assert resolve(environ={}, cwd=tmp_path).url == "http://from-file:8765"
    env = {"THREADLINE_URL": "https://from-env"}
    assert resolve(environ=env, cwd=tmp_path).url == "https://from-env"
    assert resolve({"url": "http://explicit"}, environ=env, cwd=tmp_path).url == "http://explicit"


def test_url_in_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.threadline]\nurl = "http://lineage:1"\n')
    assert resolve(environ={}, cwd=tmp_path).url == "http://lineage:1"


@pytest.mark.parametrize("bad", ["localhost:8765", "ftp://host", "http://", "http://h:99999"])
def test_a_bad_url_names_the_variable_and_the_value(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UsageError, match=rf"THREADLINE_URL='{bad}'.*not an http\(s\) URL"):
        resolve(environ={"THREADLINE_URL": bad}, cwd=tmp_path)


def test_a_bad_url_in_the_settings_file_names_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('url = "lineage:8765"\n')
    with pytest.raises(UsageError, match=r"threadline\.toml: url = 'lineage:8765'"):
        resolve(environ={}, cwd=tmp_path)


# --- handing the resolved object to server workers ---------------------------------------------


def test_the_handed_over_settings_are_the_resolved_ones(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('store = "l.db"\nport = 9100\nworkers = 3\n')
    settings = resolve(environ={}, cwd=tmp_path)
    received = handed_over({HANDOFF_ENV: settings.to_json()})
    assert received.store_url == settings.store_url
    for setting in SETTINGS:
        assert getattr(received, setting.name) == getattr(settings, setting.name)


def test_bad_handed_over_json_names_the_variable() -> None:
    with pytest.raises(UsageError, match=HANDOFF_ENV):
        handed_over({HANDOFF_ENV: "{"})
    with pytest.raises(UsageError, match="queue_size"):
        handed_over({HANDOFF_ENV: '{"queue_size": 0}'})


# --- no other module reads a setting variable --------------------------------------------------


def _setting_reads(tree: ast.Module) -> list[str]:
    """``X.get(NAME)``, ``X.getenv(NAME)`` and ``X[NAME]`` (read) where NAME is, or a module
    constant holding, the variable of a setting."""
    variables = {s.env for s in SETTINGS}
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }

    def named(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return constants.get(node.id)
        return None

    found: list[str] = []
    for node in ast.walk(tree):
        key: str | None = None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"get", "getenv", "pop"}
            and node.args
        ):
            key = named(node.args[0])
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = named(node.slice)
        elif isinstance(node, ast.Compare) and any(isinstance(o, ast.In) for o in node.ops):
            key = named(node.left)
        if key in variables:
            found.append(f"line {getattr(node, 'lineno', '?')}: {key}")
    return found


def test_no_module_but_config_reads_a_setting_variable() -> None:
    readers = {}
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "config.py":
            continue
        reads = _setting_reads(ast.parse(path.read_text(), str(path)))
        if reads:
            readers[str(path.relative_to(SRC))] = reads
    assert readers == {}


def test_the_guard_sees_a_read() -> None:
    code = (
        'import os\nNAME = "THREADLINE_STORE"\nos.environ.get(NAME)\nos.environ["THREADLINE_URL"]\n'
    )
    assert len(_setting_reads(ast.parse(code))) == 2
