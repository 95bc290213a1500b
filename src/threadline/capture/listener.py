"""The ``threadline run`` supervisor's Unix socket, bound before the command starts.

The launcher binds it first, so the captured processes can connect the moment they start:
their connections wait in the backlog until the supervisor accepts them.  It lives in a
private temporary folder, removed when the run ends.  Imports only ``os`` and ``_socket`` (the
C module under ``socket``, whose Python layer builds enums of every constant and imports
``selectors``): neither the launcher nor the supervisor loads ``socket``; every connection of
theirs is a ``_socket.socket``.
"""

from __future__ import annotations

import _socket
import os

from threadline.temp_files import temp_folder


class Listener:
    """The supervisor's Unix socket, bound and listening in a private temporary folder."""

    def __init__(self) -> None:
        self.folder = _private_folder()
        self.path = os.path.join(self.folder, "capture.sock")
        self._socket = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self._socket.bind(self.path)
        # Connections wait in the backlog until the supervisor accepts them.
        self._socket.listen(16)

    def accept(self) -> _socket.socket:
        """The next connection (blocking until one comes); OSError once :meth:`shutdown`."""
        # socket.socket.accept, whose C half this is, wraps the descriptor the same way.
        fd, _ = self._socket._accept()  # type: ignore[attr-defined]  # typeshed lacks it
        return _socket.socket(fileno=fd)

    def shutdown(self) -> None:
        """Wake an :meth:`accept` under way (it raises) and take no more connections."""
        try:  # noqa: SIM105 - contextlib is not loaded here
            self._socket.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        self.close()

    def close(self) -> None:
        self._socket.close()

    def discard(self) -> None:
        self.close()
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
    base = temp_folder()
    while True:
        path = os.path.join(base, f"{SOCKET_FOLDER_PREFIX}{os.getpid()}-{os.urandom(6).hex()}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path


__all__ = ["SOCKET_FOLDER_PREFIX", "Listener", "remove_socket_folder"]
