"""Names in the temporary folder for files one user's threadline processes share.

The writer agents' sockets, locks and logs (:mod:`threadline.store.writer_agent`), the
supervisors' socket folders (:mod:`threadline.capture.listener`) and the kept settings tables
(:mod:`threadline.settings_files`) live in ``$TMPDIR`` (``/tmp`` by default).  A shared file is
named by a digest of the user, threadline's version and what it belongs to: short enough for
a socket path, apart from other users' and from another version's (whose protocol or format
may differ).
"""

from __future__ import annotations

import os

import blake3

from threadline._version import __version__


def temp_folder() -> str:
    """The temporary folder: ``$TMPDIR``, else ``/tmp``."""
    return os.environ.get("TMPDIR") or "/tmp"


def shared_stem(prefix: str, owner: str) -> str:
    """The path, without a suffix, of this user's and version's file for ``owner`` (a store's
    URL, a settings file's path), its name beginning with ``prefix``."""
    key = f"{os.getuid()}\0{__version__}\0{owner}"
    # BLAKE3, not hashlib: its OpenSSL binding is ~2 ms of every run's supervisor.
    digest = blake3.blake3(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return os.path.join(temp_folder(), prefix + digest)


__all__ = ["shared_stem", "temp_folder"]
