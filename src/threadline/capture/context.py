"""The run currently recording, per thread and per asyncio task (contextvars)."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threadline.capture.api import RunRecorder

current_run: contextvars.ContextVar[RunRecorder | None] = contextvars.ContextVar(
    "threadline_current_run", default=None
)
