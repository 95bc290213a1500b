"""How the ``threadline run`` supervisor shares the terminal and the CPU with its command.

SIGTERM and SIGHUP sent to ``threadline run`` are forwarded to the command; Ctrl-C (SIGINT)
reaches the whole foreground process group, so the command gets it by itself and the supervisor
ignores it, staying up to write what the command sends while it shuts down.  The supervisor
runs at background priority: writing lineage should only use a core the command leaves idle.
"""

from __future__ import annotations

# signal's C half: signal builds enums of every signal and handler at import, which the
# supervisor of every run would pay for (see threadline.capture.listener on its imports).
import _signal  # type: ignore[import-not-found]  # CPython's own; typeshed has no stub
import os
import threading

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from typing import Any

    Handlers = dict[int, Any]


def background_priority() -> None:
    """Lower this process's priority (SCHED_IDLE on Linux, else the lowest nice)."""
    scheduler = getattr(os, "sched_setscheduler", None)
    idle = getattr(os, "SCHED_IDLE", None)
    if scheduler is not None and idle is not None:
        try:
            scheduler(0, idle, os.sched_param(0))
            return
        except OSError:
            pass
    try:  # noqa: SIM105 - contextlib is not loaded here
        os.nice(19)
    except (OSError, AttributeError):
        pass


def forward_signals(child: int) -> Handlers:
    """Forward SIGTERM and SIGHUP to process ``child`` and ignore SIGINT; returns the old
    handlers."""
    previous: Handlers = {}
    if threading.current_thread() is not threading.main_thread():
        return previous

    def forward(signum: int, frame: Any) -> None:
        try:  # noqa: SIM105 - see above
            os.kill(child, signum)
        except OSError:
            pass

    for signum in (_signal.SIGTERM, _signal.SIGHUP):
        previous[signum] = _signal.signal(signum, forward)
    # Ctrl-C reaches the whole foreground process group: the command gets it by itself, and
    # we stay up to write what it sends while it shuts down.
    previous[_signal.SIGINT] = _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    return previous


def restore_signals(previous: Handlers) -> None:
    """Put back the handlers :func:`forward_signals` replaced."""
    for signum, handler in previous.items():
        _signal.signal(signum, handler)


__all__ = ["background_priority", "forward_signals", "restore_signals"]
