"""Times: one parser and one printer for every instant threadline reads or writes.

Instants are stored as epoch microseconds and printed as ``2026-01-01T00:00:00.000000Z`` (the
form Marquez prints too).  Text is read as ISO 8601 / RFC 3339; a time without a zone is UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import time

from threadline.errors import UsageError


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 time as an aware ``datetime`` (naive means UTC); ``ValueError`` if it is not
    one."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def parse_instant_or_none(text: object) -> dt.datetime | None:
    """:func:`parse_instant` for a value read from stored facets: anything else is ``None``."""
    if not isinstance(text, str):
        return None
    try:
        return parse_instant(text)
    except ValueError:
        return None


def to_us(value: dt.datetime) -> int:
    """An aware ``datetime`` in epoch microseconds (exact: no float rounding)."""
    return int(value.timestamp()) * 1_000_000 + value.microsecond


def parse_moment(value: dt.datetime | str | None, option: str = "--as-of") -> int | None:
    """A user's time (a ``datetime`` or ISO 8601 text; naive means UTC) in epoch microseconds;
    bad text is a :class:`~threadline.errors.UsageError` naming ``option``."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = parse_instant(text)
        except ValueError:
            raise UsageError(
                f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-11-25 or 2026-11-25T10:00Z)"
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return to_us(value)


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def iso(us: int | None) -> str | None:
    """Epoch microseconds as ``2026-01-01T00:00:00.000000Z`` (``None`` stays ``None``)."""
    if us is None:
        return None
    seconds, micros = divmod(us, 1_000_000)
    return f"{_second(seconds)}.{micros:06d}Z"


def now_iso() -> str:
    """The current UTC time as an RFC 3339 string with microseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


__all__ = ["iso", "now_iso", "parse_instant", "parse_instant_or_none", "parse_moment", "to_us"]
