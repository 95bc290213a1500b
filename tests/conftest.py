"""Settings every test module shares."""

from __future__ import annotations

import pytest
from hypothesis import settings

# No per-example deadline: the suite runs on a busy 2-core CI machine, where a first example
# that pays for a cold import or a page fault can take 300 ms.  Speed is measured in bench/,
# never asserted by a test; a test that hangs is stopped by the CI's own time limit.
settings.register_profile("threadline", deadline=None)
settings.load_profile("threadline")


@pytest.fixture(autouse=True)
def _own_cache_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's cache folder of each test's own (``XDG_CACHE_HOME``, which the processes a
    test starts inherit): capture keeps the column statistics of files it read there, and a
    test must not find what another test, or an earlier run of the suite, left."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
