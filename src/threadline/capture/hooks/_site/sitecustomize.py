"""threadline's bootstrap for ``threadline run``: this folder is first on the child's PYTHONPATH.

It starts automatic capture (``threadline.capture.bootstrap.bootstrap_child``) and then runs the
``sitecustomize`` that would have run without us, if there is one further on the path.
"""

from __future__ import annotations

import os
import sys


def _chain() -> None:
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def _bootstrap() -> None:
    if not os.environ.get("THREADLINE_CAPTURE_SOCKET"):
        return
    try:
        from threadline.capture.bootstrap import bootstrap_child

        bootstrap_child()
    except Exception as exc:  # never stop the user's program from starting
        print(f"threadline: automatic capture is off: {type(exc).__name__}: {exc}", file=sys.stderr)


try:
    _chain()
finally:
    _bootstrap()
