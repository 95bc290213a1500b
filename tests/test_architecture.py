"""Dependency direction: each area imports only the areas to its left.

model ← integrity ← store ← query ← governance ← (capture, server, cli, export)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "threadline"
ORDER = ["model", "integrity", "store", "query", "governance"]
TOP = {"capture", "server", "cli", "export"}


LEFT = set(ORDER)
ALLOWED = {
    **{area: set(ORDER[: index + 1]) for index, area in enumerate(ORDER)},
    "capture": LEFT | {"capture"},
    "export": LEFT | {"export"},
    "server": LEFT | {"server", "capture", "export"},
    "cli": LEFT | TOP,
}


def allowed(area: str) -> set[str]:
    return ALLOWED[area]


def imported_areas(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    areas: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "threadline" and len(parts) > 1 and parts[1] in set(ORDER) | TOP:
                areas.add(parts[1])
    return areas


MODULES = sorted(
    p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] in set(ORDER) | TOP
)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_areas_to_its_left(path: Path) -> None:
    area = path.relative_to(PACKAGE).parts[0]
    forbidden = imported_areas(path) - allowed(area)
    assert not forbidden, f"{path.relative_to(PACKAGE)} imports {sorted(forbidden)}"
