"""skops: ``skops.io.dump`` and ``skops.io.load`` of models."""

from __future__ import annotations

from types import ModuleType

from threadline.capture.hooks._dump_load import dump_load_hook


def _supported(sio: ModuleType) -> bool:
    return callable(getattr(sio, "dump", None)) and callable(getattr(sio, "load", None))


hook = dump_load_hook(
    "skops",
    "skops.io",
    obj="obj",
    file="file",
    supported=_supported,
    description="skops.io dump and load",
)
