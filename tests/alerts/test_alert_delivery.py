"""Alerts from health reports to a real webhook receiver and a real NATS subscriber
(127.0.0.1:4222): HMAC-signed, de-duplicated against the durable state, re-sent when a
finding changes, a resolved notice when it goes, retried with backoff, every delivery logged."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from tests.alerts.conftest import Receiver
from tests.support.nats import require_nats

from threadline.alerts import Alerter, AlertFeed, AlertState, Sender, rules_from, verify_signature
from threadline.query.health import HealthReport
from threadline.query.health.findings import Finding

SECRET = "s3cret"


def finding(
    node: str,
    message: str = "no version of this model was trained",
    check: str = "model_without_training_data",
) -> Finding:
    return Finding(check, "gaps", "error", node, message, "record its training run", "fraud")


def report(*findings: Finding, checks: tuple[str, ...] = ("gaps",)) -> HealthReport:
    return HealthReport(list(findings), list(checks), 1_800_000_000_000_000, 0.01)


def alerter(tmp_path: Path, destinations: list[dict[str, Any]], **rule: Any) -> Alerter:
    table = {"alert": [{"name": "fraud", "destinations": destinations, **rule}]}
    state = AlertState(tmp_path / "alerts.db")
    return Alerter(rules_from(table, {}), state, Sender(AlertFeed(), backoff=(0.05, 0.1)))


def test_webhook_alerts_are_signed_deduplicated_changed_and_resolved(
    tmp_path: Path, receiver: Receiver
) -> None:
    hook = {"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}
    alerts = alerter(tmp_path, [hook])
    a, b = finding("model:file://h/a"), finding("model:file://h/b")

    async def scenario() -> None:
        await alerts.process(report(a, b))
        await alerts.process(report(a, b))  # nothing new: nothing sent
        await alerts.process(report(finding("model:file://h/a", "changed"), b))
        await alerts.process(report(b))

    asyncio.run(scenario())
    got = receiver.wait_for(3)
    assert len(got) == 3
    for request in got:
        assert verify_signature(SECRET, request.headers, request.body)
        assert not verify_signature("other", request.headers, request.body)
    first, changed, resolved = (r.json() for r in got)
    assert first["type"] == "threadline.alert"
    assert first["rule"] == "fraud"
    assert sorted((n["status"], n["finding"]["node"]) for n in first["alerts"]) == [
        ("firing", "model:file://h/a"),
        ("firing", "model:file://h/b"),
    ]
    assert [(n["status"], n["finding"]["message"]) for n in changed["alerts"]] == [
        ("changed", "changed")
    ]
    assert [(n["status"], n["finding"]["node"]) for n in resolved["alerts"]] == [
        ("resolved", "model:file://h/a")
    ]
    # The state is durable: a new alerter on the same file sends nothing for the same report.
    again = alerter(tmp_path, [hook])
    assert asyncio.run(again.process(report(b))) == []
    log = again.state.deliveries()
    assert [d.statuses for d in log] == ["resolved=1", "changed=1", "firing=2"]
    assert all(d.ok and d.attempts == 1 for d in log)


def test_a_failing_receiver_is_retried_and_a_dead_one_is_retried_next_time(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.fail_next = 2
    alerts = alerter(tmp_path, [{"type": "webhook", "url": receiver.url}])
    [sent] = asyncio.run(alerts.process(report(finding("model:file://h/a"))))
    assert sent.ok
    assert alerts.state.deliveries()[0].attempts == 3
    assert len(receiver.wait_for(1)) == 1
    # Nothing listens on the port: every attempt fails, the state keeps nothing, so the next
    # report sends the notice again.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    down = alerter(tmp_path / "down", [{"type": "webhook", "url": dead}])
    [failed] = asyncio.run(down.process(report(finding("model:file://h/a"))))
    assert not failed.ok
    [logged] = down.state.deliveries()
    assert (logged.ok, logged.attempts) == (False, 3)
    assert "Connection refused" in logged.detail or "URLError" in logged.detail
    assert down.state.open_alerts("fraud", f"webhook {dead}") == {}


def test_slack_destinations_get_slack_text(tmp_path: Path, receiver: Receiver) -> None:
    alerts = alerter(tmp_path, [{"type": "slack", "url": receiver.url}])
    asyncio.run(alerts.process(report(finding("model:file://h/a"))))
    [request] = receiver.wait_for(1)
    body = request.json()
    assert set(body) == {"text"}
    assert "model_without_training_data `model:file://h/a`" in body["text"]


def test_rules_filter_by_namespace_severity_and_check(tmp_path: Path, receiver: Receiver) -> None:
    alerts = alerter(
        tmp_path,
        [{"type": "webhook", "url": receiver.url}],
        namespaces=["fraud"],
        severities=["error"],
        checks=["model_without_training_data"],
    )
    other_namespace = Finding(
        "model_without_training_data", "gaps", "error", "model:x", "m", "h", "ads"
    )
    warning = Finding("model_without_training_data", "gaps", "warn", "model:y", "m", "h", "fraud")
    other_check = Finding("job_without_run", "gaps", "error", "job:z", "m", "h", "fraud")
    wanted = finding("model:w")
    asyncio.run(alerts.process(report(other_namespace, warning, other_check, wanted)))
    [request] = receiver.wait_for(1)
    assert [n["finding"]["node"] for n in request.json()["alerts"]] == ["model:w"]


def test_nats_subscriber_gets_one_message_per_notice(tmp_path: Path) -> None:
    require_nats()
    import nats

    subject = f"tl.test.alerts.{uuid.uuid4().hex[:8]}"
    alerts = alerter(
        tmp_path, [{"type": "nats", "url": "nats://127.0.0.1:4222", "subject": subject}]
    )

    async def scenario() -> list[Any]:
        connection = await nats.connect("nats://127.0.0.1:4222")
        got: list[Any] = []
        done = asyncio.Event()

        async def on_message(message: Any) -> None:
            got.append(orjson.loads(message.data))
            if len(got) == 3:
                done.set()

        await connection.subscribe(subject, cb=on_message)
        await connection.flush()
        await alerts.process(report(finding("model:a"), finding("model:b")))
        await alerts.process(report(finding("model:a")))
        await asyncio.wait_for(done.wait(), 5)
        await alerts.sender.close()
        await connection.drain()
        return got

    got = asyncio.run(scenario())
    assert sorted((m["status"], m["finding"]["node"]) for m in got) == [
        ("firing", "model:a"),
        ("firing", "model:b"),
        ("resolved", "model:b"),
    ]


def test_the_sse_feed_gets_alert_events(tmp_path: Path) -> None:
    alerts = alerter(tmp_path, [{"type": "sse"}])
    feed = alerts.sender.feed
    assert feed is not None

    async def scenario() -> bytes:
        frames: AsyncIterator[bytes] = feed.frames()
        first = asyncio.ensure_future(frames.__anext__())
        await asyncio.sleep(0)  # subscribed before the alert is published
        await alerts.process(report(finding("model:a")))
        frame = await asyncio.wait_for(first, 2)
        await frames.aclose()  # type: ignore[attr-defined]
        return frame

    frame = asyncio.run(scenario())
    assert frame.startswith(b"event: threadline.alert\ndata: ")
    assert orjson.loads(frame.split(b"data: ", 1)[1])["finding"]["node"] == "model:a"


def test_one_alert_lead_at_a_time_and_it_passes_on(tmp_path: Path) -> None:
    from threadline.server.health import AlertLead

    first, second = AlertLead(tmp_path / "a.lead"), AlertLead(tmp_path / "a.lead")
    assert first.try_take()
    assert not second.try_take()  # another open file: as another worker process would be
    assert first.try_take()  # holding it already
    first.release()
    assert second.try_take()
    assert not first.try_take()
    second.release()
