"""threadline: automatic, verifiable ML lineage."""
from threadline._version import __version__

__all__ = ["__version__"]
