"""Files a command writes with ``--out``: checked before the work, replaced whole after it.

A picture or an export is written to a temporary file beside the target and
renamed over it once complete, so a failure part way (a full disk, an error in the export, an
interrupt) never leaves half a file, and never clobbers the file that was there.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from threadline.errors import UsageError


def _refuse(path: Path, problem: str) -> UsageError:
    return UsageError(f"cannot write {path}: {problem}", detail={"path": str(path)})


def check_target(path: Path) -> None:
    """Refuse, before any work, an output path that cannot be a file: a folder, a file in a
    folder that does not exist, or a read-only file.  (Permissions on the folder are found out
    by the write itself: :func:`os.access` says yes to root even where the write fails.)"""
    if path.is_dir():
        raise _refuse(path, "it is a folder; give a file name in it")
    if not path.parent.is_dir():
        raise _refuse(path, f"there is no folder {path.parent}")
    if path.is_file() and not os.access(path, os.W_OK):
        raise _refuse(path, "the file is read-only")


@contextlib.contextmanager
def output(path: Path | None) -> Iterator[IO[bytes]]:
    """A binary stream to ``path`` (stdout when ``None``), which appears there only when the
    block ends without an exception; until then a file already there is left as it was."""
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    check_target(path)
    target = path.resolve() if path.is_symlink() else path  # write through a link, not over it
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise _refuse(path, exc.strerror or str(exc)) from None
    if mode is not None and not stat.S_ISREG(mode):
        # /dev/stdout, a named pipe: nothing to rename over, write straight through.
        try:
            stream = target.open("wb")
        except OSError as exc:
            raise _refuse(path, exc.strerror or str(exc)) from None
        with stream:
            yield stream
        return
    try:
        # The name cut short: the temporary's prefix and suffix must fit the name length limit.
        fd, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name[:200]}.", suffix=".part"
        )
    except OSError as exc:
        raise _refuse(path, exc.strerror or str(exc)) from None
    stream = os.fdopen(fd, "wb")
    try:
        yield stream
    except BaseException:
        stream.close()
        _discard(temporary)
        raise
    try:
        stream.close()  # flushes: a full disk shows here
        # mkstemp makes the file 0600: give it the mode a plain open would have (or keep the
        # replaced file's).
        os.chmod(temporary, stat.S_IMODE(mode) if mode is not None else _default_mode())
        os.replace(temporary, target)
    except OSError as exc:
        _discard(temporary)
        raise _refuse(path, exc.strerror or str(exc)) from None


def _discard(temporary: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)


def write(path: Path | None, data: bytes) -> None:
    """``data`` to ``path`` (stdout when ``None``), whole or not at all."""
    with output(path) as stream:
        try:
            stream.write(data)
        except OSError as exc:  # a full disk, a quota: said as a usage error, like the rest
            raise _refuse(path or Path("-"), exc.strerror or str(exc)) from None


def _default_mode() -> int:
    # The umask is only readable by setting it; a CLI process has one thread here.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


__all__ = ["check_target", "output", "write"]
