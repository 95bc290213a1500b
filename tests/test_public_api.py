"""The public surface: ``__all__`` is sorted, complete and importable, and import stays light."""

from __future__ import annotations

import subprocess
import sys

import threadline


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert threadline.__all__ == sorted(threadline.__all__)
    for name in threadline.__all__:
        assert getattr(threadline, name) is not None


def test_public_names_are_exactly_all() -> None:
    public = {name for name in dir(threadline) if not name.startswith("_")}
    assert public == {n for n in threadline.__all__ if not n.startswith("_")}


def test_import_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, threadline;"
        "heavy = [m for m in ('sqlalchemy', 'pandas', 'numpy', 'sklearn', 'fastapi', 'rich', 'typer')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
