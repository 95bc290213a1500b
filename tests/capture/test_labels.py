"""Labels, owners and ignored paths from configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.capture.labels import Labels, glob_regex
from threadline.errors import UsageError


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/data/*.csv", "/data/a.csv", True),
        ("/data/*.csv", "/data/sub/a.csv", False),
        ("/data/**/*.csv", "/data/sub/deep/a.csv", True),
        ("/data/**/*.csv", "/data/a.csv", True),
        ("**/site-packages/**", "/usr/lib/python3/site-packages/x/y.py", True),
        ("/d/file?.txt", "/d/file1.txt", True),
        ("/d/[ab].txt", "/d/c.txt", False),
        ("email", "email", True),
        ("*_id", "customer_id", True),
    ],
)
def test_glob(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).match(path)) is matches


def test_rules_attach_labels_and_owners(tmp_path: Path) -> None:
    labels = Labels.from_table(
        {
            "owners": ["team:ml"],
            "ignore": ["scratch/**"],
            "classify": [
                {"path": "data/customers*.csv", "labels": ["pii"], "owners": "team:crm"},
                {"column": "email", "labels": ["pii", "contact"]},
            ],
        },
        root=tmp_path,
    )
    assert labels.for_path(str(tmp_path / "data/customers2.csv")) == (
        frozenset({"pii"}),
        ("team:crm",),
    )
    assert labels.for_path(str(tmp_path / "data/orders.csv")) == (frozenset(), ("team:ml",))
    assert labels.for_columns(["id", "email"]) == {"pii", "contact"}
    assert labels.ignored(str(tmp_path / "scratch/tmp.csv"))
    assert labels.ignored(str(tmp_path / ".threadline/lineage.db"))
    assert labels.ignored("/proc/self/status")
    assert not labels.ignored(str(tmp_path / "data/orders.csv"))


def test_the_store_is_always_ignored(tmp_path: Path) -> None:
    labels = Labels.from_table({}, root=tmp_path, store=str(tmp_path / "elsewhere" / "lin.db"))
    assert labels.ignored(str(tmp_path / "elsewhere" / "lin.db"))
    assert labels.ignored(str(tmp_path / "elsewhere" / "lin.db-wal"))
    sqlite = Labels.from_table({}, root=tmp_path, store=f"sqlite:///{tmp_path}/s.db")
    assert sqlite.ignored(str(tmp_path / "s.db"))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"classify": {"path": "x"}}, "array of tables"),
        ({"classify": [{"labels": ["pii"]}]}, "exactly one of path or column"),
        ({"classify": [{"path": "x", "column": "y"}]}, "exactly one of path or column"),
        ({"classify": [{"path": "x", "label": ["pii"]}]}, "unknown key"),
        ({"classify": [{"path": "x", "labels": [1]}]}, r"classify\[0\].labels"),
        ({"owners": 3}, "owners"),
    ],
)
def test_bad_configuration_names_the_key(
    table: dict[str, object], message: str, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match=message):
        Labels.from_table(table, root=tmp_path)
