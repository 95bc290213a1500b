"""The package as a whole: digests agree across processes and hash seeds, the format is
pinned, and importing it loads no data library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from tests.support.files import TREE, make_tree

from threadline.fingerprint import fingerprint_directory, fingerprint_object

SAMPLES = textwrap.dedent(
    """
    import json, sys
    import numpy as np, pandas as pd, polars as pl, pyarrow as pa
    from sklearn.ensemble import RandomForestClassifier
    from threadline.fingerprint import fingerprint_directory, fingerprint_object

    class Tagged:
        def __init__(self, tags=frozenset({"beta", "alpha", "gamma"}), table=None):
            self.tags, self.table = tags, table or {"z": 1, "a": 2, "m": 3}
        def get_params(self, deep=True):
            return {"tags": self.tags, "table": self.table}
        def fit(self, X, y=None):
            self.seen_ = {"cols", "rows", "dtypes"}
            return self

    def fingerprints(directory):
        rng = np.random.default_rng(7)
        X = rng.normal(size=(60, 3))
        y = (X[:, 0] > 0).astype(int)
        frame = pd.DataFrame({
            "f": rng.normal(size=5), "s": list("abcde"),
            "o": pd.Series(["x", None, "y", "z", "w"], dtype=object),
            "c": pd.Categorical(list("ppqqp")), "i": pd.array([1, None, 3, 4, 5], dtype="Int64"),
        })
        objects = {
            "bytes": b"threadline",
            "ndarray": np.arange(10, dtype=">i4").reshape(2, 5),
            "strings": np.array(["b", "a", "c"], dtype=object),
            "frame": frame,
            "arrow": pa.table({"s": ["a", None], "l": [[1], None]}),
            "polars": pl.DataFrame({"a": [1, None], "s": ["x", "y"]}),
            "forest": RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y),
            "tagged": Tagged().fit(X),
        }
        out = {name: fingerprint_object(value) for name, value in objects.items()}
        out["directory"] = fingerprint_directory(directory)
        return out

    if __name__ == "__main__":
        print(json.dumps(fingerprints(sys.argv[1]), sort_keys=True))
    """
)


def test_fingerprints_agree_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    script = tmp_path / "samples.py"
    script.write_text(SAMPLES)
    tree = make_tree(tmp_path / "tree", TREE)
    results = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, str(script), str(tree)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        results.append(json.loads(done.stdout))
    assert results[0] == results[1]
    assert all(value is not None for value in results[0].values())
    assert len(set(results[0].values())) == len(results[0])


# Pinned digests: a change here changes every stored fingerprint of that kind.  Only update
# them together with the "v1" in the context strings.
PINNED = {
    "ndarray": "b3:a02d0f99a3f9a3b2e9389012046e3c47ecdca05aa7ae632e611d990a8b053c70",
    "arrow": "b3:fec16b9659930ac40ba12e1e24c5df7e6b22ea86003bb8fe78c15178c2b1c26a",
    "frame": "b3:344745232c5d7521c898f5c5d4fa4b830cd174ae55a7396ad7167eaad1d86f18",
    "directory": "b3:0fb70def1cef9b5ff14d5a334806083ae77c4a4d6519ea989c07d02652fc7e4c",
}


def test_encoding_is_pinned(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", TREE)
    (tree / "empty").mkdir()
    (tree / "link").symlink_to("a.csv")
    actual = {
        "ndarray": fingerprint_object(np.arange(6, dtype="<i8").reshape(2, 3)),
        "arrow": fingerprint_object(pa.table({"i": [1, None], "s": ["a", "bc"]})),
        "frame": fingerprint_object(pd.DataFrame({"i": [1, 2], "f": [0.5, 1.5]})),
        "directory": fingerprint_directory(tree),
    }
    assert actual == PINNED


def test_importing_the_module_loads_no_data_library() -> None:
    script = (
        "import sys, threadline.fingerprint; "
        "print(sorted(m for m in ('numpy', 'pandas', 'pyarrow', 'polars', 'sklearn') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_fingerprinting_paths_leaves_the_in_memory_modules_unloaded(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    script = (
        "import sys; from threadline.fingerprint import fingerprint_path; "
        f"fingerprint_path({str(tmp_path / 'f')!r}); "
        "print('threadline.fingerprint.objects' in sys.modules, 'threadline.fingerprint.encoding' in sys.modules); "
        "from threadline.fingerprint import fingerprint_object; "
        "print(fingerprint_object(b'x') == fingerprint_path("
        f"{str(tmp_path / 'f')!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "False", "True"]
