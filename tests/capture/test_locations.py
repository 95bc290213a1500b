"""Where data lives: paths, URLs, globs, open files, and literal data that is no path."""

from __future__ import annotations

import io
from pathlib import Path

from threadline.capture.locations import locations


def test_locations_of_paths_urls_globs_and_files(tmp_path: Path) -> None:
    (tmp_path / "p1.csv").write_text("x\n1\n")
    (tmp_path / "p2.csv").write_text("x\n2\n")
    (local,) = locations(tmp_path / "p1.csv")
    assert local.path == str(tmp_path / "p1.csv")
    assert local.node.namespace.startswith("file://")
    (remote,) = locations("s3://bucket/data/x.parquet")
    assert (remote.node.namespace, remote.node.name, remote.path) == (
        "s3://bucket",
        "data/x.parquet",
        None,
    )
    assert [loc.path for loc in locations(str(tmp_path / "p*.csv"))] == [
        str(tmp_path / "p1.csv"),
        str(tmp_path / "p2.csv"),
    ]
    with open(tmp_path / "p1.csv") as handle:
        (opened,) = locations(handle)
        assert opened.handle is handle
    assert locations("a,b\n1,2\n") == []  # literal data, not a path
    assert locations(io.StringIO("a\n1\n")) == []
