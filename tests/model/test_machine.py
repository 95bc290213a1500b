"""The platform string of the ``threadline_context`` facet, without ``uname -p``."""

from __future__ import annotations

import platform
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadline.model import machine


def test_python_version_is_platforms() -> None:
    assert machine.python_version() == platform.python_version()


@pytest.mark.skipif(sys.platform != "linux", reason="the string is put together on Linux only")
def test_platform_name_is_platforms_where_the_processor_says_nothing() -> None:
    # platform adds `uname -p` only when it is neither "unknown" nor the machine's name.
    processor = platform.uname().processor
    if processor not in ("", "unknown", platform.machine()):
        pytest.skip(f"this machine's processor ({processor}) is part of platform's string")
    assert machine.platform_name() == platform.platform(terse=True)


parts = st.lists(st.text(alphabet=' abc-/\\:;"()unknow.12', max_size=12), max_size=6)


@given(parts)
def test_parts_are_cleaned_as_platform_cleans_them(values: list[str]) -> None:
    # The system's name comes first and is never empty (platform fails on an empty result).
    parts = ["Linux", *values]
    expected = platform._platform(*parts)  # type: ignore[attr-defined]
    assert machine._joined(*parts) == expected
