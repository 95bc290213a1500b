"""The supervisor's journal: batches it acknowledged and has not written yet, on disk.

``threadline run``'s supervisor acknowledges a batch as soon as it has it, so the command never
waits on the store.  Between that acknowledgement and the store's commit the batch must not live
only in the supervisor's memory: it is appended to ``journal.ndjson`` in the supervisor's
private folder first (one line per batch, the frame as it came; no fsync, since what it guards
against is the supervisor's death, not the machine's).  When every journaled batch has been
written the journal is emptied, so it stays as small as the backlog.

If the supervisor dies, the command's processes find it gone, read the journal
(:func:`journaled_batches`) and write its batches themselves; the store and the server take a
batch written twice as once.  If the command died with it, nobody is left to: the next
supervisor on the host finds the dead one's folder (:func:`orphaned_folders`), writes what its
journal holds and removes it.
"""

from __future__ import annotations

import os
import stat
import threading

from threadline.capture.liveness import is_running

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Final

JOURNAL_NAME: Final = "journal.ndjson"
#: Where the journaled batches were going (a store or server URL): only a supervisor writing
#: to the same place may take over a dead one's journal.
DESTINATION_NAME: Final = "destination"


class Journal:
    """Append-only record of acknowledged batches, emptied whenever none is left to write."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        # os.path, not pathlib (and urllib.parse, fnmatch, ntpath…): see
        # threadline.capture.listener on the launcher's imports.
        self.folder = os.fspath(folder)
        self.path = os.path.join(self.folder, JOURNAL_NAME)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._lock = threading.Lock()
        self._unwritten = 0
        self._closed = False
        self.destination: str | None = None

    def mark_destination(self, destination: str) -> None:
        """Note where this supervisor writes, for whoever finds its journal orphaned."""
        self.destination = destination
        with open(os.path.join(self.folder, DESTINATION_NAME), "w") as handle:
            handle.write(destination)

    @property
    def unwritten(self) -> int:
        """Batches journaled and not written yet."""
        return self._unwritten

    def record(self, frame: bytes) -> None:
        """Keep one received batch (its frame) until :meth:`written` is called for it."""
        with self._lock:
            os.write(self._fd, frame + b"\n")
            self._unwritten += 1

    def written(self) -> None:
        """One journaled batch reached the store (or was given up on, and reported)."""
        with self._lock:
            self._unwritten -= 1
            if self._unwritten == 0 and not self._closed:
                os.ftruncate(self._fd, 0)

    def hand_off(self) -> None:
        """Close the journal as it is, for the store's writer agent to write what it holds."""
        with self._lock:
            self._close_locked()

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)


def journaled_batches(folder: str | os.PathLike[str]) -> Iterator[list[dict[str, Any]]]:
    """The event batches a dead supervisor's journal holds, oldest first, then the script
    runs of the process reports it holds (:mod:`threadline.capture.script_run`).

    A last line cut short by the supervisor's death is skipped: that batch was never
    acknowledged, so its sender still has it.
    """
    import orjson  # read only when a supervisor died, or its journal was handed over

    try:
        with open(os.path.join(folder, JOURNAL_NAME), "rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        return
    reports: dict[str, dict[str, Any]] = {}
    for line in content.splitlines():
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(message, dict):
            continue
        events = message.get("events")
        if isinstance(events, list) and events:
            yield events
        part = message.get("report")
        if isinstance(part, dict) and isinstance(part.get("runId"), str):
            reports.setdefault(part.pop("runId"), {}).update(part)
    complete = [r for r in reports.values() if "start" in r and not r.get("captured")]
    if complete:
        # Imported only here: building a run needs most of capture.
        from threadline.capture.script_run import events_of_reports

        built = events_of_reports(complete)
        if built:
            yield built


def supervisor_folders(
    base: str | os.PathLike[str], prefix: str, *, destination: str | None
) -> list[tuple[str, int]]:
    """The private folders in ``base`` of this user's supervisors writing to ``destination``
    (dead or alive), each with the pid of the supervisor that made it.

    A folder is named ``<prefix><pid>-<random>`` after the supervisor that made it; one that
    does not say where it writes (its supervisor died before resolving it) is left out: it
    holds nothing to write.
    """
    found: list[tuple[str, int]] = []
    try:
        # Names only (no stat per entry): a shared temporary folder holds thousands of
        # entries, and the writer agent looks after every run.
        with os.scandir(base) as listing:
            names = [entry.name for entry in listing if entry.name.startswith(prefix)]
    except OSError:
        return found
    uid = os.getuid()
    for name in names:
        folder = os.path.join(base, name)
        try:
            pid = int(name[len(prefix) :].split("-", 1)[0])
            status = os.stat(folder)
            if status.st_uid != uid or not stat.S_ISDIR(status.st_mode):
                continue
            with open(os.path.join(folder, DESTINATION_NAME)) as handle:
                theirs = handle.read()
        except (ValueError, OSError):
            continue
        if destination is not None and theirs == destination:
            found.append((folder, pid))
    # Oldest supervisor first (its destination file is written once, as it starts): their
    # journals are written in the order their commands ran.
    return sorted(found, key=lambda entry: _started(entry[0]))


def _started(folder: str) -> int:
    try:
        return os.stat(os.path.join(folder, DESTINATION_NAME)).st_mtime_ns
    except OSError:
        return 0


def orphaned_folders(
    base: str | os.PathLike[str], prefix: str, *, destination: str | None
) -> list[str]:
    """The private folders in ``base`` of supervisors that no longer run and were writing to
    ``destination`` (a journal never goes anywhere but where its batches were going).

    A pid reused since is taken as alive: the folder then waits for a later look rather than
    being taken from a live owner.
    """
    return [
        folder
        for folder, pid in supervisor_folders(base, prefix, destination=destination)
        if pid != os.getpid() and not is_running(pid, None)
    ]


__all__ = [
    "DESTINATION_NAME",
    "JOURNAL_NAME",
    "Journal",
    "journaled_batches",
    "orphaned_folders",
    "supervisor_folders",
]
