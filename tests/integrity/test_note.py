"""The C2SP signed-note format: parsing and writing, without cryptography."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadline.errors import UsageError
from threadline.integrity.note import (
    MAX_SIGNATURES,
    NoteSignature,
    SignedNote,
    key_id,
)

SIG = NoteSignature("example.com/log", b"\x01\x02\x03\x04", bytes(range(64)))
LINE = "\u2014 example.com/log " + base64.b64encode(SIG.key_id + SIG.signature).decode() + "\n"


def test_a_signature_line_is_em_dash_name_and_base64_of_id_and_signature() -> None:
    assert SIG.to_line() == LINE
    assert SignedNote("a\nb\n", (SIG,)).to_text() == "a\nb\n\n" + LINE


def test_key_id_is_the_start_of_sha256_of_name_newline_type_and_key() -> None:
    public = bytes(range(32))
    expected = hashlib.sha256(b"example.com/log\n\x01" + public).digest()[:4]
    assert key_id("example.com/log", 0x01, public) == expected
    assert key_id("example.com/log", 0x04, public) != expected


names = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S"], exclude_characters="+"),
    min_size=1,
)
lines = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=20)


@given(
    text=st.lists(lines, min_size=1, max_size=5).map(lambda parts: "\n".join(parts) + "\n"),
    signatures=st.lists(
        st.builds(
            NoteSignature,
            names,
            st.binary(min_size=4, max_size=4),
            st.binary(min_size=1, max_size=80),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_notes_round_trip(text: str, signatures: list[NoteSignature]) -> None:
    note = SignedNote(text, tuple(signatures))
    assert SignedNote.parse(note.to_text()) == note
    assert SignedNote.parse(note.to_text().encode()) == note


def test_the_text_ends_at_the_last_blank_line() -> None:
    note = SignedNote.parse("first\n\nsecond\n\n" + LINE)
    assert note.text == "first\n\nsecond\n"
    assert note.signatures == (SIG,)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("text\n" + LINE, "no blank line"),
        ("text\n\n" + LINE.rstrip("\n"), "must end with a newline"),
        ("text\n\n" + LINE.replace("\u2014", "--"), "does not start with"),
        ("text\n\n" + LINE.replace("log ", "log"), "is not '— <key name> <base64>'"),
        ("text\n\n" + LINE.replace("log ", "log  "), "is not '— <key name> <base64>'"),
        ("text\n\n" + LINE.replace("\u2014 example.com/log", "\u2014 a+b"), "free of spaces"),
        ("text\n\n\u2014 k !!!!\n", "is not base64"),
        ("text\n\n\u2014 k AQIDBA==\n", "holds no signature after its key ID"),
        ("text\n\n\u2014 k AQIDBAX=\n", "not canonical base64"),
        ("te\x00xt\n\n" + LINE, "control character"),
        ("text\r\n\n" + LINE, "control character"),
        ("text\n\n" + LINE + "\n", "no signature lines after its last blank line"),
        ("text\n\n" + LINE * (MAX_SIGNATURES + 1), f"at most {MAX_SIGNATURES}"),
    ],
)
def test_malformed_notes_are_usage_errors(note: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        SignedNote.parse(note)


def test_a_note_that_is_not_utf8_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not UTF-8"):
        SignedNote.parse(b"\xfftext\n\n" + LINE.encode())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SignedNote("text\n", ()), "at least one signature"),
        (lambda: SignedNote("text", (SIG,)), "must end with a newline"),
        (lambda: NoteSignature("", b"1234", b"s"), "must be non-empty"),
        (lambda: NoteSignature("a b", b"1234", b"s"), "free of spaces"),
        (lambda: NoteSignature("a", b"123", b"s"), "key ID is 4 bytes, not 3"),
        (lambda: NoteSignature("a", b"1234", b""), "cannot be empty"),
    ],
)
def test_notes_that_cannot_be_written_are_refused(make: Callable[[], object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        make()
