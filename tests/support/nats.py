"""The machine's NATS server (JetStream on), for the tests that publish to it or subscribe.

Skipped when none answers locally; in CI (``CI`` set) a missing server fails the test, so NATS
coverage can never vanish silently (``.ci/run`` starts one when it is down).
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

NATS_URL = os.environ.get("THREADLINE_TEST_NATS", "nats://127.0.0.1:4222")


def nats_answers(url: str = NATS_URL) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), 1).close()
    except OSError:
        return False
    return True


def require_nats(url: str = NATS_URL) -> None:
    """Skip (locally) or fail (in CI) unless a NATS server answers at ``url``."""
    if nats_answers(url):
        return
    if os.environ.get("CI"):
        pytest.fail(f"NATS at {url} is required in CI")
    pytest.skip(f"no NATS server at {url}")
