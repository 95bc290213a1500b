"""Where capture keeps what later processes of the same user reuse: the hooks' catalog, the
modules they watch, the column statistics of files read (``$XDG_CACHE_HOME/threadline``, else
``~/.cache/threadline``).

Imported by the bootstrap at every captured process's start: only ``os``.
"""

from __future__ import annotations

import os


def cache_folder(*parts: str) -> str | None:
    """``parts`` under threadline's folder in the user's cache folder, or None when that
    folder is not an absolute path (an ``XDG_CACHE_HOME`` of ``relative/cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    return os.path.join(base, "threadline", *parts)


__all__ = ["cache_folder"]
