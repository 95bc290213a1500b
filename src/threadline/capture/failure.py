"""An exception as a failed run's ``errorMessage`` facet records it.

One definition for every place a run fails: a run's own ``__exit__``
(:mod:`threadline.capture.api`), a process that never started capture
(:mod:`threadline.capture.bootstrap`, at exit) and the run built from its report
(:mod:`threadline.capture.script_run`).  ``traceback`` loads only when something failed.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: every captured process imports this module
if TYPE_CHECKING:
    from types import TracebackType


def error_of(
    kind: type[BaseException] | None, exc: BaseException, tb: TracebackType | None
) -> tuple[str, str]:
    """The facet's message and stack trace for ``exc``."""
    import traceback  # only a failed run has a stack trace to record

    stack = "".join(traceback.format_exception(kind or type(exc), exc, tb))
    return f"{type(exc).__name__}: {exc}", stack


__all__ = ["error_of"]
