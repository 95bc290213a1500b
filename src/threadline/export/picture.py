"""Pictures of a lineage graph (SVG, PNG) for reports and tickets, drawn by Graphviz.

The layout is Graphviz's ``dot`` program (Debian package ``graphviz``), fed the text of
:func:`threadline.export.dot.to_dot`: the same graph the terminal tree and ``--format dot``
show.  Without the program, :class:`PictureError` names the package to install rather than a
missing-file traceback.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Final

from threadline.errors import UsageError

#: Formats Graphviz renders for us, by the name the CLI takes.
FORMATS: Final = ("svg", "png")
#: A graph of thousands of nodes lays out in seconds; past this something is wrong.
TIMEOUT_SECONDS: Final = 120.0
INSTALL_HINT: Final = (
    "drawing svg or png needs Graphviz's `dot` program, which is not on PATH: install the "
    "`graphviz` package (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz), "
    "or use --format dot and render it elsewhere"
)


class PictureError(UsageError):
    """The picture could not be drawn (Graphviz missing, or it refused the graph)."""


def render(dot_text: str, fmt: str) -> bytes:
    """``dot_text`` drawn as ``fmt`` (``svg`` or ``png``) by Graphviz."""
    if fmt not in FORMATS:
        raise PictureError(f"cannot draw {fmt!r}; expected one of {', '.join(FORMATS)}")
    program = shutil.which("dot")
    if program is None:
        raise PictureError(INSTALL_HINT)
    try:
        done = subprocess.run(
            [program, f"-T{fmt}"],
            # Lone surrogates (surrogateescape file names) cannot be UTF-8: show them as \udc80
            # rather than fail.  to_dot already escapes them; this covers dot text from elsewhere.
            input=dot_text.encode("utf-8", errors="backslashreplace"),
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PictureError(
            f"Graphviz took more than {TIMEOUT_SECONDS:.0f} s to lay the graph out; "
            "narrow it (--depth, --limit) or use --format dot"
        ) from exc
    if done.returncode != 0 or not done.stdout:
        reason = done.stderr.decode(errors="replace").strip() or f"exit code {done.returncode}"
        raise PictureError(f"Graphviz could not draw the graph: {reason}")
    return done.stdout


__all__ = ["FORMATS", "INSTALL_HINT", "PictureError", "render"]
