"""Whether a file is a saved model, in a format threadline's model hooks read and write.

``threadline deploy raw.csv`` must not relabel a dataset as a model, so what can be deployed
from a path is a recorded model version or a file in one of the model hooks' formats:

* **pickle** (``pickle.dump``, and ``joblib.dump`` uncompressed): a protocol 2-5 pickle;
* **joblib** compressed (``compress=…``): zlib, gzip, bz2, xz, lzma or lz4 data, recognised only
  under a model file name (``.joblib``, ``.pkl``, ``.pickle``, optionally followed by the
  compressor's suffix), since a text file may begin with the same bytes;
* **skops** (``skops.io.dump``): a zip archive holding ``schema.json``;
* **MLflow** (``mlflow.sklearn.save_model``): a folder holding an ``MLmodel`` file.

Only the first bytes are read: loading a pickle would run its code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

#: Names of formats, as errors list them.
FORMATS: Final = ("pickle", "joblib", "skops", "MLflow model folder")

_PICKLE: Final = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))
_COMPRESSED: Final = (
    b"\x1f\x8b",  # gzip
    b"BZh",  # bz2
    b"\xfd7zXZ\x00",  # xz
    b"]\x00\x00",  # lzma
    b"\x04\x22\x4d\x18",  # lz4
)
_MODEL_SUFFIXES: Final = (".joblib", ".pkl", ".pickle")
_COMPRESSOR_SUFFIXES: Final = ("", ".z", ".gz", ".bz2", ".xz", ".lzma", ".lz4")


def model_format(path: str | os.PathLike[str]) -> str | None:
    """The format of the saved model at ``path`` (one of :data:`FORMATS`), or None."""
    target = Path(path)
    if target.is_dir():
        return "MLflow model folder" if (target / "MLmodel").is_file() else None
    try:
        with target.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    if head.startswith(_PICKLE):
        return "pickle"
    if head.startswith(b"PK\x03\x04"):
        return "skops" if _holds_schema(target) else None
    if (head.startswith(_COMPRESSED) or _zlib(head)) and _model_name(target.name):
        return "joblib"
    return None


def _zlib(head: bytes) -> bool:
    """A zlib stream's header: deflate with a 32 KiB window (``x``), and a checksum that makes
    the first two bytes a multiple of 31 (which ``x,y`` or ``xy`` at a text's start are not)."""
    return len(head) >= 2 and head[0] == 0x78 and ((head[0] << 8) | head[1]) % 31 == 0


def _model_name(name: str) -> bool:
    lowered = name.lower()
    return any(
        lowered.endswith(model + compressor)
        for model in _MODEL_SUFFIXES
        for compressor in _COMPRESSOR_SUFFIXES
    )


def _holds_schema(path: Path) -> bool:
    import zipfile  # only for a file that may be a skops archive

    try:
        with zipfile.ZipFile(path) as archive:
            return "schema.json" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


__all__ = ["FORMATS", "model_format"]
