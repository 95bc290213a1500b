"""Build the web UI into the wheel: a ``pip install`` user gets ``threadline serve``'s pages
without Node.js.  The assets are built from ``web/`` (committed ``package.json`` and lock
file, packages from the npm registry) when the build is missing; an editable install skips
this (``make ui`` builds them in place)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WebUIBuildHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "webui"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        if (root / "src/threadline/server/webui/index.html").is_file():
            return
        web = root / "web"
        if not (web / "package.json").is_file():
            raise RuntimeError(
                "the web UI is neither built nor buildable: web/package.json is missing"
            )
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "building the threadline wheel needs the web UI built: install Node.js and npm "
                "(Debian: apt-get install nodejs npm), or run `make ui` where they are"
            )
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=web, check=True)
        subprocess.run([npm, "run", "build"], cwd=web, check=True)
