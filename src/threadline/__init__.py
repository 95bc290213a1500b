"""threadline: automatic, content-addressed, verifiable ML lineage.

The public surface is listed in ``__all__``; everything else is private.  The questions
(``trace``, ``impact``, ``diff``, ``show``, ``log``, ``search``) ask the configured store when
none is given, as the capture functions record into it, after this process's own records are
written (:mod:`threadline.capture.questions`).  Heavy parts load
lazily on first attribute access (PEP 562) so ``import threadline`` stays cheap.
"""

from __future__ import annotations

import sys

from threadline._version import __version__

# Not typing.TYPE_CHECKING: importing typing costs ~8 ms, and ``threadline run`` starts by
# importing this package.  Type checkers treat any constant named TYPE_CHECKING alike.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from threadline.capture.api import RunRecorder, deploy, flush, run, step
    from threadline.capture.emitter import Emitter, shutdown
    from threadline.capture.notebook import load_ipython_extension, unload_ipython_extension
    from threadline.capture.questions import diff, impact, log, search, show, trace
    from threadline.capture.session import autocapture
    from threadline.errors import ThreadlineError
    from threadline.model.ids import NodeId
    from threadline.store import open_store

_LAZY: dict[str, str] = {
    "Emitter": "threadline.capture.emitter",
    "autocapture": "threadline.capture.session",
    "load_ipython_extension": "threadline.capture.notebook",
    "unload_ipython_extension": "threadline.capture.notebook",
    "NodeId": "threadline.model.ids",
    "RunRecorder": "threadline.capture.api",
    "ThreadlineError": "threadline.errors",
    "deploy": "threadline.capture.api",
    "diff": "threadline.capture.questions",
    "flush": "threadline.capture.api",
    "impact": "threadline.capture.questions",
    "log": "threadline.capture.questions",
    "open_store": "threadline.store",
    "run": "threadline.capture.api",
    "search": "threadline.capture.questions",
    "show": "threadline.capture.questions",
    "shutdown": "threadline.capture.emitter",
    "step": "threadline.capture.api",
    "trace": "threadline.capture.questions",
}

__all__ = [
    "Emitter",
    "NodeId",
    "RunRecorder",
    "ThreadlineError",
    "__version__",
    "autocapture",
    "deploy",
    "diff",
    "flush",
    "impact",
    "load_ipython_extension",
    "log",
    "open_store",
    "run",
    "search",
    "show",
    "shutdown",
    "step",
    "trace",
    "unload_ipython_extension",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'threadline' has no attribute {name!r}")
    # __import__, not importlib.import_module: importlib (and warnings) would be one more
    # import of every `threadline run`, which starts by importing this package.
    __import__(module)
    value = getattr(sys.modules[module], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
