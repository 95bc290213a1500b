"""Third-party hooks are found through the ``threadline.hooks`` entry points, and the scan of
installed distributions is remembered until the import path changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from threadline.capture import hooks


def _distribution(folder: Path, name: str, reference: str) -> None:
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[threadline.hooks]\n{name} = {reference}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder first on the import path, with the hook caches kept under ``tmp_path``."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.setattr(sys, "path", [str(folder), *sys.path])
    return folder


def test_installed_hooks_are_found_and_the_scan_is_remembered_until_the_path_changes(
    site: Path, tmp_path: Path
) -> None:
    _distribution(site, "acme_hook", "acme_threadline:hook")
    first = hooks.registered()
    assert ("acme_hook", "acme_threadline:hook") in first
    cached = list((tmp_path / "cache" / "threadline").glob("hooks-*.json"))
    assert len(cached) == 1
    assert hooks.registered() == first  # from the cache file
    # Installing another distribution changes the key.
    _distribution(site, "other_hook", "other_threadline:hook")
    assert ("other_hook", "other_threadline:hook") in hooks.registered()
    assert len(list((tmp_path / "cache" / "threadline").glob("hooks-*.json"))) == 2
    # Other files coming and going (a script's outputs beside it) do not.
    (site / "out.csv").write_text("a\n")
    hooks.registered()
    assert len(list((tmp_path / "cache" / "threadline").glob("hooks-*.json"))) == 2


def test_a_damaged_cache_file_is_scanned_again(site: Path, tmp_path: Path) -> None:
    _distribution(site, "acme_hook", "acme_threadline:hook")
    hooks.registered()
    (cache,) = (tmp_path / "cache" / "threadline").glob("hooks-*.json")
    cache.write_text("{not json")
    assert ("acme_hook", "acme_threadline:hook") in hooks.registered()


ADAPTER = """
from threadline.capture.hooks import HookSpec

def _install(capture, patcher, module):
    module.PATCHED = True
    return True

hook = HookSpec(name="acme", targets={"acme_lib": _install})
"""

PROBE = """
import os
import subprocess
import sys
from threadline.capture.hooks import Hooks, catalog
hooks = Hooks(capture=None)
hooks.install()
assert any(e.name == "acme" and e.targets == ("acme_lib",) for e in catalog())
print("adapter imported at start:", "acme_threadline" in sys.modules)
import acme_lib
print("patched:", getattr(acme_lib, "PATCHED", False), sorted(hooks.installed))
"""


def test_an_adapter_is_imported_only_when_its_library_is(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _distribution(site, "acme_hook", "acme_threadline:hook")
    (site / "acme_threadline.py").write_text(ADAPTER)
    (site / "acme_lib.py").write_text("VALUE = 1\n")
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join([str(site), *sys.path]),
    }
    runs = [
        subprocess.run(
            [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    # The first process builds the catalog (importing every adapter once); later ones read it.
    assert "adapter imported at start: True" in runs[0]
    assert "adapter imported at start: False" in runs[1]
    for output in runs:
        assert "patched: True" in output
        assert "acme:acme_lib" in output
    assert len(list((tmp_path / "cache" / "threadline").glob("catalog-*.json"))) == 1


def test_a_catalog_with_an_adapter_that_failed_to_load_is_not_remembered(
    site: Path, tmp_path: Path
) -> None:
    _distribution(site, "broken_hook", "broken_threadline:hook")
    (site / "broken_threadline.py").write_text("raise ImportError('needs a library')\n")
    names = {entry.name for entry in hooks.catalog()}
    assert "pandas" in names  # the others still load
    assert not list((tmp_path / "cache" / "threadline").glob("catalog-*.json"))
    # Repaired, it is found and the catalog is remembered from then on.
    (site / "broken_threadline.py").write_text(ADAPTER.replace('"acme"', '"broken"'))
    sys.modules.pop("broken_threadline", None)
    assert "broken" in {entry.name for entry in hooks.catalog()}
    assert len(list((tmp_path / "cache" / "threadline").glob("catalog-*.json"))) == 1
