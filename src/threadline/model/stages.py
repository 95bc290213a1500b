"""The stages of the ML lifecycle a run can be recorded in (``threadline_stage``).

Kept apart from the facet builders so that ``threadline run --stage S`` can check ``S``
before it starts the command without importing the event model.
"""

from __future__ import annotations

STAGES = (
    "ingestion",
    "features",
    "training",
    "evaluation",
    "registration",
    "deployment",
    "scoring",
)


def check_stage(name: str) -> str:
    """``name`` if it is a known stage; otherwise a UsageError listing the known ones."""
    if name not in STAGES:
        from threadline.errors import UsageError

        raise UsageError(f"unknown stage {name!r}; expected one of {', '.join(STAGES)}")
    return name


__all__ = ["STAGES", "check_stage"]
