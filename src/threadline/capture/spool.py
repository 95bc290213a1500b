"""The capture spool: events waiting for a server, and the events a server would not take.

The spool is a folder of append-only NDJSON *segments*, one per spooled batch, read oldest
first.  A segment is written to a temporary name, fsynced, renamed into place and the folder
fsynced, so a crash leaves either the whole batch or nothing.  A temporary file is removed on
the spot when its write fails (a full disk), and one a dead writer left behind is removed by
the next process that opens the spool.

Next to each segment the replayer may keep ``<segment>.attempts``: how many times the server
answered it with an error of its own (5xx).  Those are counted across processes and restarts,
so a segment that makes the server fail every time is eventually taken apart event by event
instead of blocking everything spooled after it.

The **quarantine** (``rejected/`` in the spool) holds single events the server refused, one
file per event named by the BLAKE3 digest of its bytes (so quarantining twice keeps one), each
with the server's reason.  Nothing in it is lost or retried on its own: ``threadline sync
--rejected`` lists it and can resend it once the cause is fixed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import blake3
import orjson

from threadline.capture.liveness import is_running
from threadline.model.times import now_iso

DEFAULT_SPOOL: Final = Path(".threadline") / "spool"
SEGMENT_SUFFIX: Final = ".ndjson"
_TEMP_SUFFIX: Final = ".tmp"
_ATTEMPTS_SUFFIX: Final = ".attempts"
_ENTRY_SUFFIX: Final = ".json"
#: A temporary file older than this whose writer's pid is unknown here is abandoned.
_ABANDONED_AFTER_SECONDS: Final = 600.0
_counter = itertools.count()


class Spool:
    """A folder of NDJSON segments, written durably, read oldest first."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.quarantine = Quarantine(self.folder / "rejected")
        self.removed_temporaries = self._remove_abandoned_temporaries()

    def segments(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.name.endswith(SEGMENT_SUFFIX))

    def __len__(self) -> int:
        return len(self.segments())

    def append(self, events: Sequence[dict[str, Any]]) -> Path:
        """Write ``events`` as one new segment; durable once this returns.

        On failure (a full disk, a read-only folder) nothing is left behind and the error says
        how many events were not spooled.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_counter):06d}{SEGMENT_SUFFIX}"
        return self._write(self.folder / name, _ndjson(events), len(events))

    def rewrite(self, segment: Path, lines: Sequence[bytes]) -> None:
        """Replace ``segment`` by the given lines (what is left of it), atomically."""
        if not lines:
            self.remove(segment)
            return
        self._write(segment, b"".join(lines), len(lines))

    def _write(self, final: Path, body: bytes, count: int) -> Path:
        temp = _temporary(final)
        try:
            with temp.open("wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise OSError(
                exc.errno,
                f"{count} lineage event(s) could not be spooled in {self.folder}: "
                f"{exc.strerror or exc}",
            ) from exc
        fsync_dir(self.folder)
        return final

    @staticmethod
    def read(segment: Path) -> bytes:
        return segment.read_bytes()

    def remove(self, segment: Path) -> None:
        for path in (segment, _attempts_path(segment)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        fsync_dir(self.folder)

    def attempts(self, segment: Path) -> int:
        """How many times the server failed on ``segment`` so far."""
        try:
            return int(_attempts_path(segment).read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def count_attempt(self, segment: Path) -> int:
        """Count one more server failure on ``segment``; returns the new count."""
        count = self.attempts(segment) + 1
        _attempts_path(segment).write_text(str(count))
        return count

    @contextlib.contextmanager
    def locked(self, *, wait: bool) -> Iterator[bool]:
        """Hold the spool's replay lock (yields False when another process holds it)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: replays are idempotent anyway
            yield True
            return
        with (self.folder / ".lock").open("a+b") as handle:
            flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(handle.fileno(), flags)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _remove_abandoned_temporaries(self) -> int:
        """Remove temporary files whose writer is gone; a live writer's are left alone."""
        removed = 0
        for temp in itertools.chain(
            _glob(self.folder, "*" + _TEMP_SUFFIX),
            _glob(self.quarantine.folder, "*" + _TEMP_SUFFIX),
        ):
            if _writer_alive(temp):
                continue
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
                removed += 1
        return removed


@dataclass(frozen=True, slots=True)
class QuarantinedEvent:
    """One event the server refused, and why."""

    path: Path
    event: bytes
    """The event's bytes exactly as they were spooled (one JSON document)."""
    reason: str
    status: int | None
    """The server's HTTP status, or None when it never answered with one."""
    quarantined_at: str
    attempts: int

    def summary(self) -> dict[str, Any]:
        """The event's identity and the refusal, for listings (not the whole event)."""
        try:
            body = orjson.loads(self.event)
        except orjson.JSONDecodeError:
            body = None
        fields = body if isinstance(body, dict) else {}
        job = fields.get("job") if isinstance(fields.get("job"), dict) else {}
        run = fields.get("run") if isinstance(fields.get("run"), dict) else {}
        return {
            "id": self.path.stem[:16],
            "quarantined_at": self.quarantined_at,
            "status": self.status,
            "reason": self.reason,
            "attempts": self.attempts,
            "event_type": fields.get("eventType"),
            "event_time": fields.get("eventTime"),
            "job": f"{job.get('namespace')}/{job.get('name')}" if job else None,
            "run_id": run.get("runId") if run else None,
        }


class Quarantine:
    """A folder of refused events, one file each, kept until resent or removed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, event: bytes, *, reason: str, status: int | None, attempts: int = 1) -> Path:
        """Keep ``event`` with the server's reason; the same bytes twice are kept once."""
        self.folder.mkdir(parents=True, exist_ok=True)
        line = event.rstrip(b"\n")
        path = self.folder / (blake3.blake3(line).hexdigest() + _ENTRY_SUFFIX)
        record = {
            "quarantined_at": now_iso(),
            "status": status,
            "reason": reason,
            "attempts": attempts,
            "event": line.decode("utf-8", errors="surrogateescape"),
        }
        temp = _temporary(path)
        with temp.open("wb") as handle:
            handle.write(orjson.dumps(record))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
        fsync_dir(self.folder)
        return path

    def entries(self) -> list[QuarantinedEvent]:
        """Every quarantined event, oldest first."""
        if not self.folder.is_dir():
            return []
        found: list[QuarantinedEvent] = []
        for path in self.folder.glob("*" + _ENTRY_SUFFIX):
            try:
                record = orjson.loads(path.read_bytes())
            except (FileNotFoundError, orjson.JSONDecodeError):
                continue
            found.append(
                QuarantinedEvent(
                    path=path,
                    event=str(record.get("event", "")).encode("utf-8", errors="surrogateescape"),
                    reason=str(record.get("reason", "")),
                    status=record.get("status"),
                    quarantined_at=str(record.get("quarantined_at", "")),
                    attempts=int(record.get("attempts") or 1),
                )
            )
        return sorted(found, key=lambda entry: (entry.quarantined_at, entry.path.name))

    def __len__(self) -> int:
        if not self.folder.is_dir():
            return 0
        return sum(1 for _ in self.folder.glob("*" + _ENTRY_SUFFIX))

    def remove(self, entry: QuarantinedEvent) -> None:
        with contextlib.suppress(FileNotFoundError):
            entry.path.unlink()
        fsync_dir(self.folder)


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _ndjson(events: Sequence[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(event) + b"\n" for event in events)


def _attempts_path(segment: Path) -> Path:
    return segment.with_name(segment.name + _ATTEMPTS_SUFFIX)


def _glob(folder: Path, pattern: str) -> list[Path]:
    return list(folder.glob(pattern)) if folder.is_dir() else []


def _temporary(final: Path) -> Path:
    """The name ``final`` is written under first; it names the writing process."""
    return final.with_name(f"{final.name}.{os.getpid()}{_TEMP_SUFFIX}")


def _writer_alive(temp: Path) -> bool:
    """Is the process writing ``temp`` still running (as far as this host can tell)?"""
    try:
        pid = int(temp.name.removesuffix(_TEMP_SUFFIX).rsplit(".", 1)[1])
    except (IndexError, ValueError):
        pid = 0
    if pid <= 0:  # not a name this module wrote: abandoned once it is old
        try:
            return time.time() - temp.stat().st_mtime < _ABANDONED_AFTER_SECONDS
        except FileNotFoundError:
            return True
    return pid == os.getpid() or is_running(pid, None)


__all__ = [
    "DEFAULT_SPOOL",
    "SEGMENT_SUFFIX",
    "Quarantine",
    "QuarantinedEvent",
    "Spool",
    "fsync_dir",
]
