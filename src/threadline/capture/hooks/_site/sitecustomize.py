"""threadline's bootstrap for ``threadline run``: this folder is first on the child's PYTHONPATH.

It starts automatic capture (``threadline.capture.bootstrap.start``, which reports the process
and starts capture once the process imports what capture watches) and then runs the
``sitecustomize`` that would have run without us, if there is one further on the path.  Every
Python process of the command runs this, so a process that is not captured (no socket to
report to, or a multiprocessing/loky worker) stops before importing capture.
"""

from __future__ import annotations

import os
import sys


def _chain() -> None:
    import importlib.machinery

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    import importlib.util  # 3 ms at every start, for the rare path that has another one

    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def _bootstrap() -> None:
    # threadline.capture.launch.SOCKET_ENV, read without importing threadline: this runs at
    # every interpreter start of the command.
    if not os.environ.get("THREADLINE_CAPTURE_SOCKET"):
        return
    try:
        from threadline.capture.workers import is_worker_process

        if is_worker_process(getattr(sys, "orig_argv", sys.argv), sys.argv):
            return
        from threadline.capture.bootstrap import start

        start()
    except Exception as exc:  # never stop the user's program from starting
        print(f"threadline: automatic capture is off: {type(exc).__name__}: {exc}", file=sys.stderr)


try:
    _chain()
finally:
    _bootstrap()
