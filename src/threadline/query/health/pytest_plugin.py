"""A pytest plugin (entry point ``pytest11``): lineage health and invariants in a team's tests.

* ``pytest --threadline-health [--threadline-health-fail-on warn|error]`` runs the health
  checks once the tests are done, prints the findings in the summary and fails the session
  when one is that severe (default ``error``);
* the ``threadline_health`` fixture asserts invariants in ordinary tests::

      def test_fraud_models_are_reviewed(threadline_health):
          threadline_health.assert_traces_to("pii-reviewed", kind="model", namespace="fraud")

      def test_no_lineage_errors(threadline_health):
          threadline_health.assert_healthy(fail_on="error", checks=["gaps"])

The store is ``--threadline-store`` when given, else the configured one (``THREADLINE_STORE``,
``threadline.toml``, ``.threadline/lineage.db``).  The checks load only when used: having
threadline installed costs other test suites nothing but this module.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from threadline.config import current

if TYPE_CHECKING:
    from threadline.query.health import HealthReport
    from threadline.store.sql import SqlStore


class LineageHealth:
    """What the ``threadline_health`` fixture gives a test."""

    def __init__(self, store: str | None) -> None:
        self._target = store
        self._store: SqlStore | None = None

    @property
    def store(self) -> SqlStore:
        if self._store is None:
            from threadline.query.configured import open_existing

            self._store = open_existing(self._target or current().store_url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def report(
        self, *, namespace: str | None = None, checks: Sequence[str] | None = None
    ) -> HealthReport:
        """The health report of the store (``checks``: families; default all)."""
        from threadline.query.health import run_health

        return run_health(self.store, namespace=namespace, families=checks)

    def assert_healthy(
        self,
        *,
        fail_on: str = "error",
        namespace: str | None = None,
        checks: Sequence[str] | None = None,
    ) -> None:
        """Fail, listing them, when findings at least as severe as ``fail_on`` exist."""
        report = self.report(namespace=namespace, checks=checks)
        if report.fails(fail_on):
            from threadline.query.health import severity_rank

            bad = [
                f for f in report.findings if severity_rank(f.severity) >= severity_rank(fail_on)
            ]
            lines = "\n".join(f"  {f.severity} {f.check} {f.node}: {f.message}" for f in bad)
            pytest.fail(f"{len(bad)} lineage finding(s) at {fail_on} or worse:\n{lines}")

    def assert_traces_to(
        self, label: str, *, kind: str = "model", namespace: str | None = None
    ) -> None:
        """Fail unless every ``kind`` node (in ``namespace``) traces upstream to a raw source
        labelled ``label``."""
        from threadline.query.health.invariants import untraced

        broken = untraced(self.store, label=label, kind=kind, namespace=namespace)
        if broken:
            lines = "\n".join(f"  {v.node}: {v.reason}" for v in broken)
            pytest.fail(f"{len(broken)} {kind}(s) break the invariant:\n{lines}")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("threadline", "lineage health (threadline)")
    group.addoption(
        "--threadline-health",
        action="store_true",
        help="After the tests, run threadline's lineage health checks; fail on findings.",
    )
    group.addoption(
        "--threadline-health-fail-on",
        choices=("warn", "error"),
        default="error",
        help="Severity that fails the session with --threadline-health (default: error).",
    )
    group.addoption(
        "--threadline-store",
        default=None,
        metavar="PATH|URL",
        help="The lineage store to check (default: the configured one).",
    )


@pytest.fixture
def threadline_health(request: pytest.FixtureRequest) -> Iterator[LineageHealth]:
    """Lineage health and invariants of the configured (or ``--threadline-store``) store."""
    health = LineageHealth(request.config.getoption("threadline_store"))
    try:
        yield health
    finally:
        health.close()


_REPORT = pytest.StashKey["HealthReport"]()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not config.getoption("threadline_health"):
        return
    health = LineageHealth(config.getoption("threadline_store"))
    try:
        report = health.report()
    finally:
        health.close()
    config.stash[_REPORT] = report
    if report.fails(config.getoption("threadline_health_fail_on")) and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    report = config.stash.get(_REPORT, None)
    if report is None:
        return
    terminalreporter.section("threadline lineage health")
    for finding in report.findings:
        terminalreporter.write_line(
            f"{finding.severity:5} {finding.check} {finding.node}: {finding.message}"
        )
    counts = report.counts()
    terminalreporter.write_line(
        f"{counts['error']} error, {counts['warn']} warn, {counts['info']} info "
        f"(fail on {config.getoption('threadline_health_fail_on')})"
    )


__all__ = ["LineageHealth", "threadline_health"]
