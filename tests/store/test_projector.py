"""When the graph follows the log (:class:`threadline.store.projector.Projector`), with the
projecting itself stood in for: what an append pays for as back-pressure."""

from __future__ import annotations

from threadline.store.projector import Projector


class Log:
    """A log of ``head`` records whose graph advances ``step`` records per page asked for."""

    def __init__(self, head: int, step: int) -> None:
        self.head, self.step, self.projected, self.pages = head, step, 0, 0

    def project_page(self, limit: int) -> tuple[int, int]:
        self.pages += 1
        if self.pages > 50:  # (the projector takes an error as the end of its attempt)
            raise RuntimeError("asked for page after page")
        self.projected = min(self.head, self.projected + min(limit, self.step))
        return self.projected, self.head


def test_an_append_projects_pages_until_the_graph_is_within_the_lag() -> None:
    log = Log(head=100, step=1_000)
    projector = Projector(log.project_page, max_lag=10, idle=3600, page=20)
    projector.appended(100)
    assert (log.projected, log.pages) == (100, 5)  # 20, 40, 60, 80, 100
    projector.close()


def test_an_append_within_the_lag_projects_nothing() -> None:
    log = Log(head=10, step=1_000)
    projector = Projector(log.project_page, max_lag=10, idle=3600, page=20)
    projector.appended(10)
    assert log.pages == 0
    projector.close()


def test_an_append_stops_when_a_page_projects_nothing() -> None:
    """A log shorter than the process thought (the head it was told is gone): the append
    returns after one fruitless page instead of asking forever."""
    log = Log(head=100, step=0)
    projector = Projector(log.project_page, max_lag=10, idle=3600, page=20)
    projector.appended(100)
    assert log.pages == 1
