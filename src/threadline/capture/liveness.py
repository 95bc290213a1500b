"""Is the process that opened a run still running?  By host, pid and the process's start time.

A pid alone is not an identity: pids are reused, so a run whose process died can point at a
live, unrelated process.  The start time of the process (Linux: ``/proc/PID/stat``, in clock
ticks since boot, plus the boot time) tells the two apart.  Where it cannot be read, a live pid
counts as the same process: a run is then left open rather than wrongly ended.  A zombie (a
process that exited and was not reaped yet) does not run.
"""

from __future__ import annotations

import os

# Not functools.cache: every captured process imports this module at start, and functools
# (collections, operator…) is ~2 ms there.
_boot: list[float | None] = []


def _boot_time() -> float | None:
    if not _boot:
        _boot.append(_read_boot_time())
    return _boot[0]


def _read_boot_time() -> float | None:
    try:
        with open("/proc/stat", "rb") as handle:
            for line in handle:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/PID/stat`` from the third (the state) on, if it can be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count after its end.
    return stat[stat.rfind(b")") + 2 :].split()


def _start_of(fields: list[bytes]) -> float | None:
    boot = _boot_time()
    if boot is None:
        return None
    try:
        ticks = int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch, to the clock tick), if known."""
    fields = _stat_fields(pid)
    return None if fields is None else _start_of(fields)


def is_running(pid: int, started: float | None) -> bool:
    """Does process ``pid``, started at ``started`` (if known), still run on this host?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc to ask: the live pid counts as the process
    if fields[:1] in ([b"Z"], [b"X"]):
        # Exited, only not reaped yet: an orphan whose new parent never reaps (a container's
        # first process often does not) stays a zombie for as long as the machine runs.
        return False
    if started is None:
        return True
    actual = _start_of(fields)
    # The tick and the boot time are rounded: a second apart is the same start.
    return actual is None or abs(actual - started) < 1.0


__all__ = ["is_running", "process_start"]
