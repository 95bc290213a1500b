"""Scheduled health checks wait for a pause in ingest (``IngestFirst.wait_quiet``), one
interval at most, and never hold back the checks alert rules make after events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from tests.support.graphs import build_store

from threadline.config import Settings, with_overrides
from threadline.query.health import HealthReport
from threadline.server.health import HealthScheduler
from threadline.server.stream import ChangeHub, IngestFirst
from threadline.store import open_store


def test_wait_quiet_returns_at_once_when_nothing_was_ingested() -> None:
    async def scenario() -> bool:
        return await asyncio.wait_for(IngestFirst().wait_quiet(0.05, 30), 10)

    assert asyncio.run(scenario()) is True


def test_wait_quiet_waits_for_requests_in_flight_and_a_quiet_spell_after_them() -> None:
    async def scenario() -> list[str]:
        ingest = IngestFirst()
        seen: list[str] = []
        ingest.begin()
        waiting = asyncio.create_task(ingest.wait_quiet(0.2, 30))
        await asyncio.sleep(0.3)
        seen.append("done" if waiting.done() else "waiting while a request is in flight")
        ingest.end()
        await asyncio.sleep(0.05)
        seen.append("done" if waiting.done() else "waiting for the quiet spell")
        seen.append("paused" if await asyncio.wait_for(waiting, 10) else "gave up")
        return seen

    assert asyncio.run(scenario()) == [
        "waiting while a request is in flight",
        "waiting for the quiet spell",
        "paused",
    ]


@contextlib.asynccontextmanager
async def steady(ingest: IngestFirst) -> AsyncIterator[None]:
    """Writing requests of 10 ms, 10 ms apart, while the block runs: ingest that never
    pauses for long."""
    stop = asyncio.Event()

    async def requests() -> None:
        while not stop.is_set():
            ingest.begin()
            await asyncio.sleep(0.01)
            ingest.end()
            await asyncio.sleep(0.01)

    feeder = asyncio.create_task(requests())
    try:
        yield
    finally:
        stop.set()
        await feeder


def test_wait_quiet_gives_up_under_ingest_that_never_pauses() -> None:
    async def scenario() -> bool:
        ingest = IngestFirst()
        async with steady(ingest):
            return await asyncio.wait_for(ingest.wait_quiet(5.0, 0.3), 10)

    assert asyncio.run(scenario()) is False


def scheduler(tmp_path: Path, every: float) -> HealthScheduler:
    path = tmp_path / "pipeline.db"
    build_store(path).close()
    store = open_store(path)
    settings = with_overrides(Settings(), health_every_seconds=every)
    return HealthScheduler(store, settings, ChangeHub(store), alerter=None)


def test_a_scheduled_check_waits_while_a_batch_is_ingested(tmp_path: Path) -> None:
    async def scenario(health: HealthScheduler) -> tuple[int, int]:
        ingest = health.hub.ingest
        ingest.begin()  # a batch in flight past the schedule's first check, due at 1 s
        health.start()
        try:
            await asyncio.sleep(1.6)
            during = health.checks_run
            ingest.end()
            for _ in range(200):
                if health.checks_run:
                    break
                await asyncio.sleep(0.05)
            return during, health.checks_run
        finally:
            await health.close()

    health = scheduler(tmp_path, every=1.0)
    try:
        during, after = asyncio.run(scenario(health))
    finally:
        health.store.close()
    assert during == 0
    assert after >= 1


def test_a_scheduled_check_runs_late_under_ingest_that_never_pauses(tmp_path: Path) -> None:
    async def scenario(health: HealthScheduler) -> int:
        async with steady(health.hub.ingest):
            health.start()
            try:
                for _ in range(200):
                    if health.checks_run:
                        break
                    await asyncio.sleep(0.05)
                return health.checks_run
            finally:
                await health.close()

    health = scheduler(tmp_path, every=0.2)
    try:
        assert asyncio.run(scenario(health)) >= 1
    finally:
        health.store.close()


def test_events_alert_rules_wait_on_end_the_wait_for_a_pause(tmp_path: Path) -> None:
    async def scenario(health: HealthScheduler) -> list[int | None]:
        triggers: list[int | None] = []
        check = health.check

        async def noted(*, triggered_us: int | None = None) -> HealthReport:
            triggers.append(triggered_us)
            return await check(triggered_us=triggered_us)

        health.check = noted  # type: ignore[method-assign]
        health.hub.ingest.begin()  # ingest that does not pause before the test ends
        health.start()
        try:
            # The scheduled check, due at 3 s, waits for a pause (until 6 s at most).
            await asyncio.sleep(3.5)
            # What HealthScheduler._follow does when events reach an alerting server:
            health._pending_since = 1234
            health._wake.set()
            for _ in range(30):  # 1.5 s: the alert's check does not wait for the pause
                if triggers:
                    break
                await asyncio.sleep(0.05)
            return triggers
        finally:
            await health.close()

    health = scheduler(tmp_path, every=3.0)
    try:
        triggers = asyncio.run(scenario(health))
    finally:
        health.store.close()
    assert triggers == [1234]
