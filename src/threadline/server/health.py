"""Lineage health over HTTP, the server's scheduled health check, and its alerts.

* ``GET /api/v1/threadline/health?namespace=&check=&fail_on=``: the JSON of ``threadline health
  --json`` (:mod:`threadline.query.health`), checked now; with ``fail_on=warn|error`` the
  answer also says ``"failed": true|false`` (still 200: the report is the answer);
* ``GET /api/v1/threadline/health/stream``: alert notices as Server-Sent Events of type
  ``threadline.alert`` (the ``sse`` destination of an alert rule);
* ``GET /api/v1/threadline/health/deliveries?limit=``: the most recent alert deliveries;
* ``GET /api/v1/threadline/health/history``: findings per severity over the scheduled checks of
  this server process (the dashboard's counts over time; kept in memory, bounded).

The router's lifespan runs inside the app's (FastAPI nests a router's lifespan in the app's),
so the store and the change stream are open when it starts :class:`HealthScheduler`: a health
check every ``health_every_seconds`` (0: none), each at a pause in ingest (or one interval
late under ingest that never pauses), and, when alert rules are configured
(``[[tool.threadline.alert]]``), one shortly after events arrive, so an alert follows the
event that caused it within about a second on a store whose checks take well under that.
With ``--workers N`` every worker has the rules, but only the one holding the alert lead (a
lock on the alert state file, :class:`AlertLead`) delivers alerts; the others wait to take over
should it die.  SSE notices reach the listeners of every worker through the state file
(:class:`~threadline.alerts.RelayedFeed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Final

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Query, Request
from starlette.responses import StreamingResponse

from threadline.alerts import Alerter, AlertFeed, AlertState, RelayedFeed, Sender, rules_from
from threadline.config import Settings
from threadline.errors import UsageError
from threadline.query.health import HealthReport, run_health
from threadline.server.memory import release_memory
from threadline.server.stream import ChangeHub
from threadline.store.base import Store

log = logging.getLogger("threadline.server.health")

#: After an event, wait this long for the rest of its batch before checking.
SETTLE_SECONDS: Final = 0.05
#: Event-triggered checks are at least this far apart, and twice the last check's duration.
MIN_GAP_SECONDS: Final = 0.25
#: A scheduled check waits for ingest to pause this long (for one more interval at most): on
#: a large store a check holds the server process's interpreter for a second or more (1.6 s
#: on bench_server's, under py-spy), and a batch arriving meanwhile would wait for it.
QUIET_SECONDS: Final = 0.5


#: Findings of each check a scheduled run without alerts keeps (the rest are counted).
KEPT_PER_CHECK: Final = 100
#: Points of the counts-over-time history kept (a day of checks a minute apart).
HISTORY_POINTS: Final = 1440
#: A check whose counts did not change adds a history point at most this often.
HISTORY_EVERY_US: Final = 60 * 1_000_000
#: How often a worker without the alert lead tries to take it.
LEAD_RETRY_SECONDS: Final = 1.0


class AlertLead:
    """Which of a server's workers delivers alerts: the one holding an exclusive lock on
    ``<alert state>.lead``.  The lock goes with the process, so a worker that dies hands the
    lead to the next one that asks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_take(self) -> bool:
        if self._fd is not None:
            return True
        try:
            import fcntl
        except ModuleNotFoundError:  # no flock (Windows): one process per server there
            self._fd = -1
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None and self._fd >= 0:
            os.close(self._fd)  # closing drops the lock
        self._fd = None


class HealthScheduler:
    """Runs the health checks on a schedule and after events; delivers the alerts."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        hub: ChangeHub,
        alerter: Alerter | None,
        lead: AlertLead | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.hub = hub
        self.alerter = alerter
        self.lead = lead
        #: Findings per severity of the last scheduled run (not the findings: on a large store
        #: they are hundreds of thousands, and the server would keep them between runs).
        self.latest_counts: dict[str, int] | None = None
        self.checks_run = 0
        #: (checked at, findings per severity) of scheduled checks, oldest first.
        self.history: deque[tuple[int, dict[str, int]]] = deque(maxlen=HISTORY_POINTS)
        self._pending_since: int | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self.settings.health_every_seconds == 0 and self.alerter is None:
            return  # no schedule and no rules: nothing would ever run
        self._tasks.append(asyncio.create_task(self._loop()))
        if self.alerter is not None:
            self._tasks.append(asyncio.create_task(self._lead_then_follow()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.alerter is not None:
            await self.alerter.sender.close()
        if self.lead is not None:
            self.lead.release()

    @property
    def alerting(self) -> bool:
        """This process delivers alerts (it has rules and holds the lead)."""
        return self.alerter is not None and (self.lead is None or self.lead.held)

    async def _lead_then_follow(self) -> None:
        while self.lead is not None and not self.lead.try_take():
            await asyncio.sleep(LEAD_RETRY_SECONDS)
        await self._follow()

    async def _follow(self) -> None:
        async for changes in self.hub.follow(None):
            if changes and self._pending_since is None:
                self._pending_since = time.time_ns() // 1000
                self._wake.set()

    async def _loop(self) -> None:
        # 0: no schedule, only the checks after events.
        interval = self.settings.health_every_seconds or None
        last_took = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            triggered = self._pending_since
            if triggered is not None:
                await asyncio.sleep(SETTLE_SECONDS)
            elif interval is not None:
                await self._ingest_pause(interval)
                if self._wake.is_set():  # events an alert rule waits on came meanwhile
                    self._wake.clear()
                    triggered = self._pending_since
                    await asyncio.sleep(SETTLE_SECONDS)
            self._pending_since = None
            started = time.perf_counter()
            try:
                await self.check(triggered_us=triggered)
            except Exception:  # a failing check must not end the schedule
                log.exception("scheduled health check failed")
            # A run over a large store builds and drops many findings: give the memory back.
            release_memory()
            last_took = time.perf_counter() - started
            await asyncio.sleep(max(MIN_GAP_SECONDS, 2 * last_took) if triggered else 0)

    async def _ingest_pause(self, at_most: float) -> None:
        """Wait for a pause in ingest (``at_most`` seconds at most), or for events that alert
        rules check at once."""
        pause = asyncio.create_task(self.hub.ingest.wait_quiet(QUIET_SECONDS, at_most))
        woken = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait({pause, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pause, woken):
                task.cancel()
            await asyncio.gather(pause, woken, return_exceptions=True)

    async def check(self, *, triggered_us: int | None = None) -> HealthReport:
        # Between runs only the counts are kept; alerts need every finding (to alert and
        # resolve each once), a schedule without alerts only the first few of each check.
        keep = None if self.alerting else KEPT_PER_CHECK
        report: HealthReport = await anyio.to_thread.run_sync(
            lambda: run_health(self.store, self.settings, keep_per_check=keep)
        )
        self.latest_counts = report.counts()
        self.checks_run += 1
        self._remember(report.checked_at_us, self.latest_counts)
        if self.alerter is not None and self.alerting:
            await self.alerter.process(report, triggered_us=triggered_us)
        return report

    def _remember(self, at_us: int, counts: dict[str, int]) -> None:
        # Checks after events can come every quarter second: keep the changes, and one
        # point a minute while nothing changes, so the history spans hours, not minutes.
        if self.history:
            last_at, last_counts = self.history[-1]
            if counts == last_counts and at_us - last_at < HISTORY_EVERY_US:
                return
        self.history.append((at_us, dict(counts)))


def _state_path(settings: Settings) -> Path:
    return Path(settings.alert_state).expanduser().resolve()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime = app.state.runtime  # opened by the app's own lifespan, which runs first
    settings: Settings = runtime.settings
    rules = rules_from(settings.file)
    feed: AlertFeed = AlertFeed()
    alerter = None
    state = None
    lead = None
    relay: asyncio.Task[None] | None = None
    if rules:
        path = _state_path(settings)
        state = AlertState(path)
        relayed = RelayedFeed(state)
        feed = relayed
        relay = asyncio.create_task(relayed.relay())
        alerter = Alerter(rules, state, Sender(feed))
        lead = AlertLead(path.with_name(path.name + ".lead"))
    scheduler = HealthScheduler(runtime.store, settings, runtime.hub, alerter, lead)
    app.state.health = scheduler
    app.state.alert_feed = feed
    app.state.alert_state = state
    scheduler.start()
    try:
        yield
    finally:
        await scheduler.close()
        if relay is not None:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
        if state is not None:
            state.close()


router = APIRouter(prefix="/api/v1/threadline", tags=["threadline"], lifespan=lifespan)


@router.get("/health", summary="Lineage health: gaps, orphans, staleness, drift, broken files")
async def health(
    request: Request,
    namespace: Annotated[str | None, Query(description="Only findings of this namespace")] = None,
    check: Annotated[
        list[str] | None,
        Query(
            description="Only these check families: gaps, orphans, staleness, drift, fingerprints"
        ),
    ] = None,
    fail_on: Annotated[
        str | None, Query(description="warn or error: say whether a finding is that severe")
    ] = None,
) -> dict[str, Any]:
    """Every finding, worst first: check, family, severity, node, namespace, message, hint."""
    if fail_on is not None and fail_on not in ("warn", "error"):
        raise UsageError(f"fail_on takes warn or error, not {fail_on!r}")
    runtime = request.app.state.runtime
    report: HealthReport = await anyio.to_thread.run_sync(
        lambda: run_health(runtime.store, runtime.settings, namespace=namespace, families=check)
    )
    body = report.to_dict()
    if fail_on is not None:
        body["failed"] = report.fails(fail_on)
    return body


@router.get(
    "/health/stream",
    summary="Alert notices as Server-Sent Events (event: threadline.alert)",
    response_class=StreamingResponse,
)
async def alert_stream(request: Request) -> StreamingResponse:
    """The notices of alert rules with an ``sse`` destination, as they are sent."""
    feed: AlertFeed = request.app.state.alert_feed

    async def frames() -> AsyncIterator[bytes]:
        yield b"retry: 1000\n\n"
        async for frame in feed.frames():
            yield frame

    return StreamingResponse(
        frames(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get("/health/history", summary="Findings per severity over this server's scheduled checks")
async def history(request: Request) -> dict[str, Any]:
    """One point per scheduled check whose counts changed (and at least one a minute),
    oldest first, at most a day of them; empty when the server runs no scheduled check
    (``health_every_seconds = 0`` and no alert rules)."""
    scheduler: HealthScheduler = request.app.state.health
    return {
        "every_seconds": request.app.state.runtime.settings.health_every_seconds,
        "points": [{"at_us": at, "counts": counts} for at, counts in list(scheduler.history)],
    }


@router.get("/health/deliveries", summary="The most recent alert deliveries")
async def deliveries(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many")] = 100,
) -> dict[str, Any]:
    """Each delivery: rule, destination, notices, statuses, attempts, ok, detail, time and
    the latency from the triggering event (ms)."""
    state: AlertState | None = request.app.state.alert_state
    rows = [] if state is None else await anyio.to_thread.run_sync(state.deliveries, limit)
    return {
        "deliveries": [
            {
                "rule": d.rule,
                "destination": d.destination,
                "notices": d.notices,
                "statuses": d.statuses,
                "attempts": d.attempts,
                "ok": d.ok,
                "detail": d.detail,
                "at_us": d.at_us,
                "latency_ms": d.latency_ms,
            }
            for d in rows
        ]
    }


__all__ = ["AlertLead", "HealthScheduler", "lifespan", "router"]
