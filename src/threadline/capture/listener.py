"""The ``threadline run`` supervisor's Unix socket, bound before the command starts.

The launcher binds it first, so the captured processes can connect the moment they start:
their connections wait in the backlog until the supervisor accepts them.  It lives in a
private temporary folder, removed when the run ends.  Imports only ``os`` and ``_socket`` (the
C module under ``socket``, whose Python layer builds enums and imports ``selectors``): the
launcher must start the command quickly.
"""

from __future__ import annotations

import _socket
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket as socket_module


class Listener:
    """The supervisor's Unix socket, bound and listening in a private temporary folder."""

    def __init__(self) -> None:
        self.folder = _private_folder()
        self.path = os.path.join(self.folder, "capture.sock")
        self._bound: _socket.socket | None = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self._socket: socket_module.socket | None = None
        self._bound.bind(self.path)
        # Connections wait in the backlog until the supervisor accepts them.
        self._bound.listen(16)

    @property
    def socket(self) -> socket_module.socket:
        """The listening socket as the ``socket`` module's object (``accept`` and the rest),
        made on first use: by the supervisor, once the command has started."""
        if self._socket is None:
            import socket as socket_module

            assert self._bound is not None
            self._socket = socket_module.socket(fileno=self._bound.detach())
            self._bound = None
        return self._socket

    def discard(self) -> None:
        if self._socket is not None:
            self._socket.close()
        elif self._bound is not None:
            self._bound.close()
        remove_socket_folder(self.folder)


def remove_socket_folder(folder: str) -> None:
    """Remove a supervisor's folder and what it holds (its socket, journal and destination
    files), ignoring what is gone already.  Not ``shutil.rmtree``: importing shutil (fnmatch,
    zlib, bz2, lzma) costs every run's supervisor more than the files it removes."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        try:
            os.unlink(path)
        except IsADirectoryError:  # never made by a supervisor: leave the rest to rmtree
            import shutil

            shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass
    try:  # noqa: SIM105 - the launcher has not loaded contextlib
        os.rmdir(folder)
    except OSError:
        pass


#: How the supervisors' socket folders begin (in TMPDIR), so that a dead one can be told apart.
SOCKET_FOLDER_PREFIX = "tl-"


def _private_folder() -> str:
    """A new folder only this user can enter (``tempfile.mkdtemp`` without importing
    ``tempfile``, ``random`` and ``shutil``, a tenth of the launcher's start-up)."""
    base = os.environ.get("TMPDIR") or "/tmp"
    while True:
        path = os.path.join(base, f"{SOCKET_FOLDER_PREFIX}{os.getpid()}-{os.urandom(6).hex()}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path


__all__ = ["SOCKET_FOLDER_PREFIX", "Listener", "remove_socket_folder"]
