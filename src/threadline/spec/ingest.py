"""The ingest policy: which OpenLineage events are refused, and what is noted on the others.

Real producers deviate from the schema: no ``schemaURL`` (Marquez's own test events, early
Spark listeners), no ``producer`` (the dbt integration's fixtures), a facet that breaks its own
schema, times without a zone.  An OpenLineage client does not retry a 400, so refusing such an
event loses its lineage for good.  The policy therefore refuses only what cannot be placed in
the lineage graph without guessing (:func:`lineage_problems`):

* a body that is not a JSON object, or holds none of ``run``, ``job``, ``dataset``;
* no ``eventTime``, or one that is not an ISO 8601 time;
* a RunEvent without ``run.runId`` (a non-empty string of at most 64 characters: the width
  of the store's run columns) or without ``job.namespace`` and ``job.name``, or whose
  ``eventType`` is not one of the spec's states (the run's state would be a guess);
* a DatasetEvent without ``dataset.namespace`` and ``dataset.name``; a JobEvent without
  ``job.namespace`` and ``job.name``;
* ``inputs`` or ``outputs`` that are not arrays of objects, each with a ``namespace`` and a
  ``name``;
* wrong types on any of these (a namespace, name or id must be a non-empty string), or a NUL
  character (``\\u0000``) in one: PostgreSQL's text columns cannot hold it, and a store must
  not take what another store of the same log would refuse;
* a ``threadline_artifact`` facet whose ``kind`` is not a non-empty string of at most 16
  characters (the width of the store's kind column): threadline's own facet, so a bad one is
  a producer bug worth reporting rather than a guess.

Long names and versions are not refused: the store keeps them whole and indexes them by a
digest (:mod:`threadline.store.schema`).

Everything else the full schema check finds (:class:`~threadline.spec.validation.EventValidator`)
is a *note*: the event is stored exactly as sent, and its notes, each a JSON path and a message,
are its ``threadline_validation`` annotation.  Notes are a function of the stored body, so any
reader (``threadline show``, ``GET /api/v1/events``, the per-producer counts) derives the same
ones.  A facet that breaks its own schema stays in the body but is left out of the projected
graph (:meth:`IngestPolicy.trusted_view`): an owner, a schema or a version read from it would
be a guess.

``strict`` (``threadline serve --strict``, the ``strict_ingest`` setting, ``threadline import
--strict``) refuses every schema deviation as well, as threadline did before this policy.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any, Final

from threadline.errors import InvalidEvent
from threadline.model.events import EVENT_TYPES
from threadline.model.times import parse_instant
from threadline.spec.validation import (
    MAX_DEPTH,
    EventValidator,
    Problem,
    invalid_event,
    json_path,
    json_type,
    nesting_problem,
)

#: Notes kept for one event at most (the first ones, most relevant first).
MAX_NOTES: Final = 50
#: The widest run id the store's run columns hold (a UUID is 36 characters).
MAX_RUN_ID: Final = 64
#: The widest artifact kind the store's kind column holds.
MAX_KIND: Final = 16
#: Problems a refusal lists in its ``detail`` at most.
MAX_REFUSALS: Final = 10

_FINER_THAN_MICROSECONDS = re.compile(r"[T ]\d{2}:?\d{2}:?\d{2}[.,]\d{7,}")

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Review:
    """What the policy makes of one event."""

    refused: list[Problem]
    """Why the event is refused; empty when it is accepted."""
    notes: list[Problem]
    """Deviations recorded on an accepted event (its ``threadline_validation`` annotation)."""

    @property
    def accepted(self) -> bool:
        return not self.refused


# --- what lineage needs -------------------------------------------------------------------------


#: A run facet only the store's own erasure events carry (:mod:`threadline.store.erasure`).
RESERVED_RUN_FACET: Final = "threadline_erasure"


def lineage_problems(body: Any) -> list[Problem]:
    """What keeps ``body`` out of the lineage graph (see the module docstring); empty when
    the event can be recorded."""
    if not isinstance(body, dict):
        return [Problem("$", f"an event must be a JSON object, not {json_type(body)}")]
    if not ("run" in body or "dataset" in body or "job" in body):
        found = [
            Problem(
                "$",
                "an OpenLineage event needs 'run' (RunEvent), 'job' (JobEvent) "
                "or 'dataset' (DatasetEvent)",
            )
        ]
        _event_time(body, found)
        return found
    found = []
    _event_time(body, found)
    if "run" in body:
        run = _object(body, ("run",), found)
        if run is not None:
            _text(run, ("run", "runId"), found, limit=MAX_RUN_ID)
            facets = run.get("facets")
            if isinstance(facets, dict) and RESERVED_RUN_FACET in facets:
                # Verification trusts this facet to vouch for rewritten records: only
                # ``threadline gc`` writes it, straight into the store.
                found.append(
                    _problem(
                        ("run", "facets", RESERVED_RUN_FACET),
                        "the threadline_erasure facet is reserved for threadline gc's "
                        "erasure events and cannot be sent",
                    )
                )
        _named(body, ("job",), found)
        _event_type(body, found)
        _dataset_lists(body, found)
    elif "dataset" in body:
        _named(body, ("dataset",), found)
        _artifact_kind(body["dataset"], ("dataset",), found)
    else:
        _named(body, ("job",), found)
        _dataset_lists(body, found)
    return found


def _problem(path: Path, message: str) -> Problem:
    return Problem(json_path(path), message, path)


def _event_time(body: dict[str, Any], found: list[Problem]) -> None:
    if "eventTime" not in body:
        found.append(_problem(("eventTime",), "'eventTime' is a required property"))
        return
    value = body["eventTime"]
    if not isinstance(value, str):
        found.append(_problem(("eventTime",), f"must be a string, not {json_type(value)}"))
        return
    try:
        parse_instant(value).timestamp()  # the store keeps it as epoch microseconds
    except (ValueError, OverflowError):
        found.append(_problem(("eventTime",), f"{value!r} is not an ISO 8601 date-time"))


def _object(holder: dict[str, Any], path: Path, found: list[Problem]) -> dict[str, Any] | None:
    key = path[-1]
    if key not in holder:
        found.append(_problem(path, f"{key!r} is a required property"))
        return None
    value = holder[key]
    if not isinstance(value, dict):
        found.append(_problem(path, f"must be an object, not {json_type(value)}"))
        return None
    return value


def _text(
    holder: dict[str, Any], path: Path, found: list[Problem], *, limit: int | None = None
) -> None:
    key = path[-1]
    if key not in holder:
        found.append(_problem(path, f"{key!r} is a required property"))
        return
    value = holder[key]
    if not isinstance(value, str):
        found.append(_problem(path, f"must be a string, not {json_type(value)}"))
    elif not value:
        found.append(_problem(path, "must not be empty"))
    elif limit is not None and len(value) > limit:
        found.append(_problem(path, f"is {len(value)} characters long, over the limit of {limit}"))
    elif "\0" in value:
        found.append(_problem(path, "must not contain a NUL character (\\u0000)"))


def _named(holder: dict[str, Any], path: Path, found: list[Problem]) -> None:
    """A job or dataset: an object with a ``namespace`` and a ``name``."""
    value = _object(holder, path, found)
    if value is not None:
        _text(value, (*path, "namespace"), found)
        _text(value, (*path, "name"), found)


def _named_well(item: dict[str, Any]) -> bool:
    namespace, name = item.get("namespace"), item.get("name")
    return (
        type(namespace) is str
        and type(name) is str
        and bool(namespace)
        and bool(name)
        and "\0" not in namespace
        and "\0" not in name
    )


def _artifact_kind(dataset: Any, path: Path, found: list[Problem]) -> None:
    """``threadline_artifact.kind``, when the dataset carries that facet, is a short string."""
    facets = dataset.get("facets") if isinstance(dataset, dict) else None
    artifact = facets.get("threadline_artifact") if isinstance(facets, dict) else None
    if not isinstance(artifact, dict) or "kind" not in artifact:
        return
    kind = artifact["kind"]
    where = (*path, "facets", "threadline_artifact", "kind")
    if not isinstance(kind, str):
        found.append(_problem(where, f"must be a string, not {json_type(kind)}"))
    else:
        _text(artifact, where, found, limit=MAX_KIND)


def _event_type(body: dict[str, Any], found: list[Problem]) -> None:
    value = body.get("eventType")
    if value is None or value in EVENT_TYPES:
        return
    shown = repr(value) if isinstance(value, str) else json_type(value)
    found.append(_problem(("eventType",), f"{shown} is not one of {', '.join(EVENT_TYPES)}"))


def _dataset_lists(body: dict[str, Any], found: list[Problem]) -> None:
    for side in ("inputs", "outputs"):
        items = body.get(side)
        if items is None:  # absent, or null: no datasets (a null is noted, not refused)
            continue
        if not isinstance(items, list):
            found.append(_problem((side,), f"must be an array, not {json_type(items)}"))
            continue
        for index, item in enumerate(items):
            if type(item) is dict and _named_well(item):
                facets = item.get("facets")
                if type(facets) is dict and "threadline_artifact" in facets:
                    _artifact_kind(item, (side, index), found)
                continue  # the common case, without building paths
            if not isinstance(item, dict):
                found.append(_problem((side, index), f"must be an object, not {json_type(item)}"))
                continue
            _text(item, (side, index, "namespace"), found)
            _text(item, (side, index, "name"), found)
            _artifact_kind(item, (side, index), found)


# --- notes ---------------------------------------------------------------------------------------


def time_notes(body: dict[str, Any]) -> list[Problem]:
    """How ``eventTime`` was read when it is not a plain RFC 3339 time (the schema's format
    check accepts both forms, so they are noted here)."""
    value = body.get("eventTime")
    try:
        naive = isinstance(value, str) and dt.datetime.fromisoformat(value).tzinfo is None
    except ValueError:
        return []  # refused, not noted
    if not isinstance(value, str):
        return []
    notes: list[Problem] = []
    if naive:
        notes.append(_problem(("eventTime",), f"{value!r} has no time zone; read as UTC"))
    if _FINER_THAN_MICROSECONDS.search(value):
        notes.append(
            _problem(
                ("eventTime",),
                f"{value!r} is finer than a microsecond; stored to the microsecond",
            )
        )
    return notes


# --- the policy ---------------------------------------------------------------------------------


class IngestPolicy:
    """Refuse what lineage cannot use; note everything else (``strict``: refuse it too).

    Example::

        policy = IngestPolicy()
        review = policy.review({"eventTime": "2024-01-01T00:00:00", "run": {...}, ...})
        review.accepted, review.notes
        # (True, [Problem(path='$.eventTime', message="... has no time zone; read as UTC"), ...])
    """

    def __init__(self, validator: EventValidator | None = None, *, strict: bool = False) -> None:
        self.validator = validator or shared_validator()
        self.strict = strict

    def review(self, body: Any, *, raw: bytes | None = None) -> Review:
        """The verdict on ``body``; ``raw`` (its JSON text) lets a small event skip the
        nesting walk, as in :meth:`EventValidator.problems`."""
        if self.strict:
            schema = self.validator.problems(body, MAX_REFUSALS, raw=raw)
            if schema:
                return Review(schema, [])
        elif isinstance(body, dict):
            deep = nesting_problem(body, raw)
            if deep is not None:
                return Review([deep], [])
        refused = lineage_problems(body)
        if refused:
            return Review(refused[:MAX_REFUSALS], [])
        if self.strict:
            return Review([], time_notes(body))
        # Its nesting was checked above (a dict: lineage_problems refuses anything else).
        return Review([], self.notes(body, nesting_checked=True))

    def admit(self, body: Any, *, raw: bytes | None = None, where: str = "") -> list[Problem]:
        """The notes of an accepted event; :class:`~threadline.errors.InvalidEvent` naming
        the first offending JSON path for a refused one (``where`` prefixes its message, e.g.
        ``event #3 of the batch: ``)."""
        review = self.review(body, raw=raw)
        if review.refused:
            raise refusal(review.refused, where, strict=self.strict)
        return review.notes

    def notes(
        self, body: Any, *, raw: bytes | None = None, nesting_checked: bool = False
    ) -> list[Problem]:
        """The notes of a stored event (what :meth:`review` found when it was accepted);
        ``raw`` and ``nesting_checked`` as in :meth:`EventValidator.problems`."""
        if not isinstance(body, dict):
            return []
        found = self.validator.problems(body, None, raw=raw, nesting_checked=nesting_checked)
        return [*time_notes(body), *found][:MAX_NOTES]

    def trusted_view(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` without the facets that break their own schema (the same object when
        every facet holds): what the projection may take as metadata."""
        return without(body, self.validator.untrusted_facets(body))


def without(body: dict[str, Any], places: list[Path]) -> dict[str, Any]:
    """A copy of ``body`` with the values at ``places`` removed (``body`` itself if none)."""
    if not places:
        return body
    out = copy.deepcopy(body)
    for place in places:
        holder: Any = out
        for step in place[:-1]:
            holder = holder[step]
        del holder[place[-1]]
    return out


def refusal(problems: list[Problem], where: str = "", *, strict: bool = False) -> InvalidEvent:
    """The 400 for a refused event: the message names the first JSON path and what is wrong."""
    what = (
        "does not match the OpenLineage schema (strict ingest):"
        if strict
        else "cannot be recorded as lineage:"
    )
    return invalid_event(problems, where, what)


@functools.cache
def shared_validator() -> EventValidator:
    """One validator per process (compiling the schemas takes a few tens of milliseconds)."""
    return EventValidator()


def default_policy(*, strict: bool = False) -> IngestPolicy:
    """The policy over the process's shared validator."""
    return IngestPolicy(shared_validator(), strict=strict)


__all__ = [
    "MAX_DEPTH",
    "MAX_KIND",
    "MAX_NOTES",
    "MAX_RUN_ID",
    "IngestPolicy",
    "Review",
    "default_policy",
    "lineage_problems",
    "refusal",
    "shared_validator",
    "time_notes",
    "without",
]
