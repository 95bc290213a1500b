"""Where a store's writer agent listens, and how a reader waits for what it still holds.

``threadline run`` hands what a command captured to one long-lived *writer agent* per store and
user on this host (:mod:`threadline.capture.agent`): the store is opened, and SQLAlchemy
imported, once for a whole pipeline of short commands instead of once per command, and a
command ends without waiting for its last events to be committed.  Those events are safe the
moment the agent or the run's journal has them, but a reader opening the store right after the
command must still see them: :func:`wait_for_agent` (called by
:func:`threadline.store.open_store`) returns once the agent has written everything handed to it
before the call.  A store no agent ever served pays one ``stat``.

The agent's socket, lock and log file live in the temporary folder, named by a digest of the
user, threadline's version and the store's URL (a socket path must stay short).  The lock is held by the live agent
for as long as it may still write: a reader that finds no socket waits for the lock, so an
agent that stopped listening and is writing its last batches is still waited for.
"""

from __future__ import annotations

import _socket  # socket's C half: see threadline.capture.listener on the launcher's imports
import fcntl
import os
import struct
import time

from threadline.frozen import frozen_record
from threadline.temp_files import shared_stem

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from typing import Final

#: How the agents' files in the temporary folder begin.
AGENT_PREFIX: Final = "tla-"
#: The hello of a connection that only waits for the agent to catch up (see the agent's
#: protocol in :mod:`threadline.capture.agent`).
FLUSH_ROLE: Final = "flush"
#: How long a reader waits for the agent before reading what is there.
WAIT_SECONDS: Final = 60.0
_HEADER: Final = struct.Struct(">I")
_DONE: Final = b"\x01"


@frozen_record
class AgentPaths:
    """The files of the writer agent of one store."""

    socket: str
    lock: str
    log: str


def agent_paths(url: str) -> AgentPaths:
    """The agent files for the store at ``url`` (its normalized URL) and this user.  The
    version is part of the name: after an upgrade, runs start an agent that speaks their
    protocol, and the old one exits when idle."""
    stem = shared_stem(AGENT_PREFIX, url)
    return AgentPaths(socket=stem + ".sock", lock=stem + ".lock", log=stem + ".log")


def wait_for_agent(url: str, timeout: float = WAIT_SECONDS) -> bool:
    """Return once the store's writer agent, if one runs, has written everything it was handed
    before this call (False: it did not answer within ``timeout``; the store is read as it is).
    """
    paths = agent_paths(url)
    if not os.path.exists(paths.lock):
        return True  # no agent ever served this store here
    deadline = time.monotonic() + timeout
    while True:
        caught_up = _flush(paths.socket, max(deadline - time.monotonic(), 0.001))
        if caught_up is not None:
            return caught_up
        # Nobody listens: no agent runs (the lock is free), or one is about to listen (a run
        # holds the lock while it starts one) or has stopped listening and writes its last
        # batches, holding the lock until they are in.
        if _unlocked(paths.lock):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def _flush(path: str, timeout: float) -> bool | None:
    """Ask the agent at ``path`` to catch up; None when nothing listens there."""
    probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    probe.settimeout(timeout)
    try:
        probe.connect(path)
        payload = b'{"role":"' + FLUSH_ROLE.encode() + b'"}'
        probe.sendall(_HEADER.pack(len(payload)) + payload)
        reply = probe.recv(1)
    except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
        return None
    except OSError:
        return False
    finally:
        probe.close()
    # An agent that stopped listening closes the connections it had not taken yet.
    return reply == _DONE if reply else None


def _unlocked(lock: str) -> bool:
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also releases the shared lock just taken
    return True


__all__ = [
    "AGENT_PREFIX",
    "FLUSH_ROLE",
    "WAIT_SECONDS",
    "AgentPaths",
    "agent_paths",
    "wait_for_agent",
]
