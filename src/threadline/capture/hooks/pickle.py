"""pickle: ``pickle.dump(obj, file)`` and ``pickle.load(file)`` on named files."""

from __future__ import annotations

from threadline.capture.hooks._dump_load import dump_load_hook

hook = dump_load_hook(
    "pickle", "pickle", obj="obj", file="file", description="pickle dump and load"
)
