"""The versions of the libraries that shape what a model is, as the process imported them.

Read from the imported modules, never from installed metadata: scanning every installed
distribution cost ~15 ms at each script's start, and a package the script never imported
did not shape what it computed.  Imports nothing beyond ``sys``: every captured process calls
it at exit (:mod:`threadline.capture.bootstrap`).
"""

from __future__ import annotations

import sys

from threadline._version import __version__

#: Packages whose versions are recorded when imported (they shape what a model is).
TRACKED_PACKAGES = (
    "numpy",
    "pandas",
    "polars",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "xgboost",
    "lightgbm",
    "torch",
    "mlflow",
    "joblib",
    "threadline",
)

_IMPORT_NAMES = {"scikit-learn": "sklearn"}


def package_versions() -> dict[str, str]:
    """Versions of the tracked packages this process has imported, as it runs (called again
    at the run's end, when the script's imports are all in)."""
    versions: dict[str, str] = {}
    for name in TRACKED_PACKAGES:
        module = sys.modules.get(_IMPORT_NAMES.get(name, name))
        version = getattr(module, "__version__", None) if module is not None else None
        if isinstance(version, str):
            versions[name] = version
    versions["threadline"] = __version__
    return versions


__all__ = ["TRACKED_PACKAGES", "package_versions"]
