"""Hypothesis strategies for the text where canonical JSON and its parsers can go wrong."""

from __future__ import annotations

from hypothesis import strategies as st

#: Keys from the whole of Unicode, and keys crowded where UTF-8 and UTF-16 orders disagree
#: (U+E000..U+FFFF sort after astral characters in UTF-8, before them in UTF-16).
awkward_keys = st.text() | st.text(
    st.characters(min_codepoint=0xE000, max_codepoint=0x1F000), max_size=3
)
#: Strings made of the very bytes that mark a float or a null outside a string, so that a
#: search of serialized JSON meets them where they mean nothing.
token_text = st.text(alphabet='":,[]{}0123456789.eE+-nul\\ ', max_size=12)

__all__ = ["awkward_keys", "token_text"]
