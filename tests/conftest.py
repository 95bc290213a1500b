"""Settings every test module shares."""

from __future__ import annotations

from hypothesis import settings

# No per-example deadline: the suite runs on a busy 2-core CI machine, where a first example
# that pays for a cold import or a page fault can take 300 ms.  Speed is measured in bench/,
# never asserted by a test; a test that hangs is stopped by the CI's own time limit.
settings.register_profile("threadline", deadline=None)
settings.load_profile("threadline")
