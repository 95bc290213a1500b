"""Alert rules from the settings file: what holds, and one-line errors naming rule and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from threadline.alerts.rules import rules_from
from threadline.config import resolve
from threadline.errors import UsageError

GOOD = """
[[alert]]
name = "fraud"
checks = ["gaps", "stale_training_data"]
namespaces = ["fraud"]
severities = ["error"]
destinations = [
  { type = "webhook", url = "http://127.0.0.1:9/hook", secret_env = "TL_TEST_SECRET" },
  { type = "slack", url = "https://hooks.example/x" },
  { type = "nats", url = "nats://127.0.0.1:4222", subject = "ops.alerts" },
  { type = "sse" },
]
"""


def test_a_rule_from_threadline_toml(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text(GOOD)
    settings = resolve(environ={}, cwd=tmp_path)
    [rule] = rules_from(settings.file, {"TL_TEST_SECRET": "s3cret"})
    assert rule.name == "fraud"
    assert "model_without_training_data" in rule.checks
    assert "stale_training_data" in rule.checks
    assert "orphan_artifact" not in rule.checks
    assert rule.namespaces == {"fraud"}
    assert [d.type for d in rule.destinations] == ["webhook", "slack", "nats", "sse"]
    assert rule.destinations[0].secret == "s3cret"
    assert rule.destinations[2].subject == "ops.alerts"
    assert rules_from(None) == []


def _rule(**fields: Any) -> dict[str, Any]:
    return {"name": "r", "destinations": [{"type": "sse"}], **fields}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"alert": [{"destinations": [{"type": "sse"}]}]},
            "alert rule '?' (#1): name: every rule needs a name",
        ),
        (
            {"alert": [_rule(checks=["gap"])]},
            "alert rule 'r' (#1): checks: 'gap' is neither a check family nor a check name",
        ),
        (
            {"alert": [_rule(severities=["fatal"])]},
            "alert rule 'r' (#1): severities: 'fatal' is not one of info, warn, error",
        ),
        (
            {"alert": [_rule(namespaces=[3])]},
            "alert rule 'r' (#1): namespaces: [3] is not a list of names",
        ),
        (
            {"alert": [_rule(destinations=[])]},
            "alert rule 'r' (#1): destinations: a rule needs at least one destination",
        ),
        (
            {"alert": [_rule(destinations=[{"type": "email"}])]},
            "alert rule 'r' (#1): destinations[0].type: 'email' is not one of webhook, slack, nats, sse",
        ),
        (
            {"alert": [_rule(destinations=[{"type": "webhook", "url": "ftp://x/y"}])]},
            "alert rule 'r' (#1): destinations[0].url: 'ftp://x/y' is not a http/https URL (e.g. https://host/hook)",
        ),
        (
            {
                "alert": [
                    _rule(
                        destinations=[
                            {"type": "webhook", "url": "http://x", "secret_env": "TL_NOPE"}
                        ]
                    )
                ]
            },
            "alert rule 'r' (#1): destinations[0].secret_env: environment variable 'TL_NOPE' is not set",
        ),
        (
            {
                "alert": [
                    _rule(destinations=[{"type": "nats", "url": "nats://h:4222", "subject": "a.*"}])
                ]
            },
            "alert rule 'r' (#1): destinations[0].subject: 'a.*' is not a NATS subject",
        ),
        (
            {"alert": [_rule(destinations=[{"type": "sse", "url": "http://x"}])]},
            "alert rule 'r' (#1): destinations[0].url: unknown field for a sse destination",
        ),
        ({"alert": [_rule(), _rule()]}, "alert rule 'r' (#2): name: another rule has this name"),
        (
            {"alert": [_rule(check=["gaps"])]},
            "alert rule 'r' (#1): check: unknown field; expected checks, destinations, name, namespaces, severities",
        ),
        ({"alert": "x"}, "alert: 'x' is not a list of rules ([[tool.threadline.alert]])"),
    ],
)
def test_bad_rules_name_the_rule_and_the_field(table: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        rules_from(table, {})
    assert str(caught.value) == message
