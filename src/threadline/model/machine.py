"""The interpreter and operating system a run ran on, as the ``threadline_context`` facet and
the ``processing_engine`` facet name them.

``platform.platform()`` asks ``uname -p`` for the processor, a subprocess (fork, exec and the
``subprocess`` import: 5-10 ms) at every captured process's start, only to drop the answer
on Linux, where it is ``unknown`` or the machine name.  The same string is put together here
from ``os.uname()`` and the C library's own version; other systems still ask ``platform``.
"""

from __future__ import annotations

import os
import sys

_LEVELS = {"alpha": "a", "beta": "b", "candidate": "rc"}


def python_version() -> str:
    """The running Python's version as ``platform.python_version()`` gives it (``3.11.7``,
    ``3.13.0rc1``)."""
    info = sys.version_info
    version = f"{info.major}.{info.minor}.{info.micro}"
    level = _LEVELS.get(info.releaselevel)
    return f"{version}{level}{info.serial}" if level else version


#: platform_name's answer (not functools.cache: every captured process imports this module at
#: start, and functools is ~2 ms there).
_platform: list[str] = []


def platform_name() -> str:
    """``platform.platform(terse=True)``: ``Linux-6.1.0-x86_64-with-glibc2.36``."""
    if not _platform:
        _platform.append(_platform_name())
    return _platform[0]


def _platform_name() -> str:
    uname = os.uname()
    if uname.sysname == "Linux":
        libc = _libc()
        if libc is not None:
            return _joined(uname.sysname, uname.release, uname.machine, "with", libc)
    import platform

    return platform.platform(terse=True)


def _libc() -> str | None:
    try:
        answer = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (AttributeError, ValueError, OSError):
        return None
    name, _, version = (answer or "").partition(" ")
    return f"{name}{version}" if name and version else None


def _joined(*parts: str) -> str:
    # platform._platform's cleaning: a file-name-safe string without "unknown" parts.
    text = "-".join(part.strip() for part in parts if part)
    for character in ' /\\:;"()':
        text = text.replace(character, "_" if character == " " else "-")
    text = text.replace("unknown", "")
    while "--" in text:
        text = text.replace("--", "-")
    return text.rstrip("-")


__all__ = ["platform_name", "python_version"]
