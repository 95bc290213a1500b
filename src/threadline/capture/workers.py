"""Which processes of a ``threadline run`` command are captured: the user's, not the helpers.

Every Python process the command starts runs ``sitecustomize`` (it inherits the
``PYTHONPATH``), including multiprocessing and loky workers and the helper scripts libraries
run; those are no scripts of the user's, and capturing them would only add noise and start-up
time.  This module imports nothing else, so a worker decides to stay uncaptured before any of
capture is imported.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs a worker ~8 ms
if TYPE_CHECKING:
    from collections.abc import Sequence

_WORKER_MARKERS = ("--multiprocessing-fork", "multiprocessing", "loky", "joblib.externals")


def is_worker_process(orig_argv: Sequence[str], argv: Sequence[str] = ()) -> bool:
    """Not a script of the user's: multiprocessing/loky workers, or a library's helper script
    (MLflow, for one, runs ``site-packages/mlflow/utils/_capture_modules.py``)."""
    flags = [a for a in orig_argv[1:] if a.startswith("-")]
    if "--multiprocessing-fork" in orig_argv:
        return True
    script = argv[0] if argv else ""
    if script and not script.startswith("-"):
        location = os.path.abspath(script).replace(os.sep, "/")
        if "/site-packages/" in location or "/dist-packages/" in location:
            return True
    if "-c" in flags or "-m" in flags:
        return any(marker in a for a in orig_argv[1:] for marker in _WORKER_MARKERS)
    return False


__all__ = ["is_worker_process"]
