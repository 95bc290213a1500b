"""Lifecycle rules from the settings file (errors name the file and line) and the plan
``threadline gc --dry-run`` prints, on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from tests.support.graphs import BACKENDS, pipeline_store
from typer.testing import CliRunner

from threadline.cli import app
from threadline.errors import UsageError
from threadline.lifecycle.plan import make_plan
from threadline.lifecycle.rules import parse_duration, policy_from
from threadline.store.sql import SqlStore

DAY_US = 86_400 * 1_000_000
NOW_US = 1_800_000_000 * 1_000_000  # 2027-01-15, after every day() of the pipeline


def write(folder: Path, body: str, name: str = "pyproject.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def policy(path: Path) -> object:
    import tomllib

    table = tomllib.loads(path.read_text())
    if path.name == "pyproject.toml":
        table = table["tool"]["threadline"]
    return policy_from(table, path)


RULES = """
[project]
name = "x"

[[tool.threadline.lifecycle]]
name = "keep-models"
match = { kind = "model" }
older_than = "1d"
action = "retain"

[[tool.threadline.lifecycle]]
name = "pii"
match = { namespace = "file://*", label = "pii" }
older_than = "30d"
action = "delete"
reason = "GDPR art. 17"

[[tool.threadline.lifecycle]]
name = "old"
match = { namespace = "file://h" }
older_than = "2w"
action = "archive"
reason = "cold storage after two weeks"

[[tool.threadline.legal_hold]]
name = "case-7"
match = { label = "pii", kind = "dataset" }
reason = "litigation hold L-7"
"""


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ('older_than = "30 days"', 6, "older_than: '30 days' is not a duration"),
        ('action = "shred"', 7, "action: 'shred' is not one of retain, archive, delete"),
        ('colour = "red"', 8, "colour: unknown field"),
        ('match = { namespace = "crm", labl = "pii" }', 5, "match.labl: unknown field"),
        ('match = { stage = "cleaning" }', 5, "match.stage: 'cleaning' is not one of"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_line(
    tmp_path: Path, body: str, line: int, message: str
) -> None:
    base = {
        "match": 'match = { namespace = "crm" }',
        "older_than": 'older_than = "30d"',
        "action": 'action = "delete"',
    }
    key = body.split(" ", 1)[0]
    base[key] = body
    lines = [
        "[project]",
        'name = "x"',
        "",
        "[[tool.threadline.lifecycle]]",
        base.pop("match"),
        base.pop("older_than"),
        base.pop("action"),
        *base.values(),
        'reason = "r"',
    ]
    path = tmp_path / "pyproject.toml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError) as caught:
        policy(path)
    assert str(caught.value).startswith(f"pyproject.toml:{line}: lifecycle rule 'lifecycle #1': ")
    assert message in str(caught.value)


def test_durations() -> None:
    assert parse_duration("30d") == 30 * 86_400
    assert parse_duration("12h") == 43_200
    assert parse_duration("1.5w") == 1.5 * 7 * 86_400
    for bad in ("30", "d", "-1d", "30 days", "1y"):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)


def test_delete_needs_a_reason_and_names_are_unique(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[lifecycle]]
        match = { namespace = "crm" }
        older_than = "1d"
        action = "delete"
        """,
        "threadline.toml",
    )
    with pytest.raises(
        UsageError, match=r"threadline.toml:2: lifecycle rule 'lifecycle #1': reason: is required"
    ):
        policy(path)
    path = write(
        tmp_path,
        """
        [[lifecycle]]
        name = "a"
        match = { namespace = "crm" }
        older_than = "1d"
        action = "retain"

        [[legal_hold]]
        name = "a"
        match = { namespace = "crm" }
        reason = "hold"
        """,
        "threadline.toml",
    )
    with pytest.raises(UsageError, match="two rules are named 'a'"):
        policy(path)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    with pipeline_store(request.param, tmp_path) as built:
        yield built


def test_the_plan_weighs_every_version_against_the_first_rule_that_applies(
    store: SqlStore, tmp_path: Path
) -> None:
    plan = make_plan(store, policy(write(tmp_path, RULES)), NOW_US)  # type: ignore[arg-type]
    by_rule = {r.rule.name: r for r in plan.rules}
    # Models: kept by the first rule, never archived by the third.
    assert by_rule["keep-models"].versions == 3
    assert not [c for c in plan.candidates if c.kind == "model"]
    # The PII raw file: selected for deletion, held by the legal hold.
    pii = [c for c in plan.candidates if c.rule == "pii"]
    assert {(c.node, c.version) for c in pii} == {
        ("dataset:file://h/raw_a", "b3:a1"),
        ("dataset:file://h/raw_a", "b3:a2"),
    }
    assert {(c.action, c.held_by) for c in pii} == {("delete", "case-7")}
    assert by_rule["pii"].held == 2
    # Everything else in file://h is old enough to archive.
    archived = {c.node for c in plan.candidates if c.rule == "old"}
    assert "dataset:file://h/raw_b" in archived
    assert "dataset:file://h/raw_a" not in archived  # its first rule decided
    assert all(
        c.action == "archive" and c.held_by is None for c in plan.candidates if c.rule == "old"
    )
    # Nothing is old enough a day after the last event.
    recent = make_plan(store, policy(write(tmp_path, RULES)), NOW_US - 370 * DAY_US)  # type: ignore[arg-type]
    assert recent.candidates == ()


def test_gc_dry_run_prints_the_plan_and_changes_nothing(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, RULES)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    before = runner.invoke(app, ["--store", store.url, "export"]).stdout
    result = runner.invoke(app, ["--store", store.url, "gc", "--dry-run", "--json"])
    assert result.exit_code == 0, result.stderr
    body = orjson.loads(result.stdout)
    assert [r["name"] for r in body["rules"]] == ["keep-models", "pii", "old"]
    assert body["legal_holds"][0]["name"] == "case-7"
    assert body["examined_versions"] > 10
    table = runner.invoke(app, ["--store", store.url, "gc", "--dry-run"])
    assert table.exit_code == 0
    assert "keep-models" in table.stdout
    assert "dry run" in table.stdout
    # Applied: the delete rule's versions are all under the legal hold; the archive rule
    # moves old records into files, and the export (read back from them) is the same.
    applied = runner.invoke(app, ["--store", store.url, "gc"])
    assert applied.exit_code == 0, applied.stderr
    assert "kept by legal holds" in applied.stdout
    assert "archived" in applied.stdout
    after = runner.invoke(app, ["--store", store.url, "export"]).stdout
    assert after.startswith(before)  # every record, archived ones read back from the files
    added = [orjson.loads(line) for line in after[len(before) :].splitlines()]
    assert [event["job"]["name"] for event in added] == ["lifecycle/archive"]
