"""Every fingerprint test gets its own default cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from threadline.fingerprint import FingerprintCache, set_default_cache


@pytest.fixture(autouse=True)
def private_default_cache() -> Iterator[FingerprintCache]:
    """Each test gets its own default cache so that no hit leaks from one test to another."""
    cache = FingerprintCache()
    previous = set_default_cache(cache)
    try:
        yield cache
    finally:
        set_default_cache(previous)
