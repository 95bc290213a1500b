"""``%load_ext threadline``: capture a Jupyter/IPython session as one notebook run.

Every cell's reads, writes, fits, transforms, predictions and metrics become child runs of the
notebook's run (their ``threadline_capture`` facet names the cell).  After each cell, writes to
files it closed and the evaluations it computed are emitted, and the emitter is flushed, so
``threadline trace`` in the next cell already sees them.  ``%unload_ext threadline`` (or the
kernel's exit) ends the notebook run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from threadline.capture import session
from threadline.capture.api import flush
from threadline.capture.boundary import capture_boundary
from threadline.capture.project import identify
from threadline.config import current

_callbacks: list[tuple[str, Any]] = []


def notebook_path(ip: Any) -> str | None:
    """The notebook's file, when the front end says (VS Code, JupyterLab, ``JPY_SESSION_NAME``)."""
    namespace = getattr(ip, "user_ns", {}) or {}
    for key in ("__vsc_ipynb_file__", "__session__"):
        value = namespace.get(key)
        if isinstance(value, str) and value:
            return value
    return os.environ.get("JPY_SESSION_NAME") or None


def notebook_job(ip: Any) -> str:
    """The notebook's job: its path from the project's root, as a script's job is named
    (:meth:`threadline.capture.project.Project.job_name`), else ``notebook``."""
    path = notebook_path(ip)
    if not path:
        return "notebook"
    return identify(current(), script=str(Path(path).resolve())).job_name(path)


def _ipython_major() -> int:
    try:
        import IPython

        return int(IPython.version_info[0])
    except (ImportError, AttributeError, ValueError, IndexError):
        return 0


def load_ipython_extension(ip: Any) -> None:
    """Start capturing this IPython session (``%load_ext threadline``)."""
    path = notebook_path(ip)
    started = session.autocapture(
        notebook_job(ip), script=path if path and os.path.isfile(path) else None
    )
    capture = started.capture

    # IPython 9 counts a cell before announcing it; earlier versions count it afterwards.
    counted_first = _ipython_major() >= 9

    def pre_run_cell(info: Any = None) -> None:
        with capture_boundary("notebook.pre_run_cell"):
            count = getattr(ip, "execution_count", None)
            context: dict[str, Any] = {}
            if isinstance(count, int):
                context["cell"] = count - 1 if counted_first else count
            cell_id = getattr(info, "cell_id", None)
            if isinstance(cell_id, str) and cell_id:
                context["cellId"] = cell_id
            capture.context = context

    def post_run_cell(result: Any = None) -> None:
        with capture_boundary("notebook.post_run_cell"):
            capture.finish()
            flush(5.0)

    for name, callback in (("pre_run_cell", pre_run_cell), ("post_run_cell", post_run_cell)):
        ip.events.register(name, callback)
        _callbacks.append((name, callback))


def unload_ipython_extension(ip: Any) -> None:
    """Stop capturing and record the end of the notebook run (``%unload_ext threadline``)."""
    while _callbacks:
        name, callback = _callbacks.pop()
        with capture_boundary("notebook.unload"):
            ip.events.unregister(name, callback)
    session.stop()
    flush(10.0)


__all__ = ["load_ipython_extension", "notebook_job", "notebook_path", "unload_ipython_extension"]
