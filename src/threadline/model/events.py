"""OpenLineage-shaped events (spec ``OpenLineage.json`` 2-0-2).

Facets are kept as plain JSON objects so that custom facets from any producer round-trip byte
for byte; threadline's own facets are built by :mod:`threadline.model.facets`.  Events are
frozen ``msgspec`` structs: cheap to build on a caller's thread, strict to decode at a boundary.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final, Literal

import msgspec

from threadline.errors import InvalidEvent

# Re-exported: their home is the light module, most code knows them from here.
from threadline.model.producer import DATASET_EVENT_SCHEMA_URL as DATASET_EVENT_SCHEMA_URL
from threadline.model.producer import JOB_EVENT_SCHEMA_URL as JOB_EVENT_SCHEMA_URL
from threadline.model.producer import PRODUCER as PRODUCER
from threadline.model.producer import SCHEMA_URL as SCHEMA_URL
from threadline.model.times import parse_instant

EventType = Literal["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER"]
EVENT_TYPES: Final = ("START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER")
TERMINAL_EVENT_TYPES: Final = frozenset({"COMPLETE", "FAIL", "ABORT"})

Facets = dict[str, Any]


class Dataset(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """An input or output dataset: ``namespace`` + ``name`` (OpenLineage naming) and facets.

    Example: ``Dataset(namespace="file://host", name="/data/raw.csv")``
    """

    namespace: str
    name: str
    facets: Facets = msgspec.field(default_factory=dict)
    inputFacets: Facets = msgspec.field(default_factory=dict)
    outputFacets: Facets = msgspec.field(default_factory=dict)


class Run(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """A run: its ``runId`` (UUID, v7 preferred) and run facets."""

    runId: str
    facets: Facets = msgspec.field(default_factory=dict)


class Job(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """A job: a namespace chosen by the scheduler, a name unique within it, job facets."""

    namespace: str
    name: str
    facets: Facets = msgspec.field(default_factory=dict)


class RunEvent(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """A run state transition with the datasets read and written (``$defs/RunEvent``)."""

    eventTime: str
    run: Run
    job: Job
    producer: str
    schemaURL: str
    eventType: str | None = None
    inputs: list[Dataset] = msgspec.field(default_factory=list)
    outputs: list[Dataset] = msgspec.field(default_factory=list)


class DatasetEvent(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """Metadata about a dataset outside any run (``$defs/DatasetEvent``)."""

    eventTime: str
    dataset: Dataset
    producer: str
    schemaURL: str


class JobEvent(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """Metadata about a job outside any run (``$defs/JobEvent``)."""

    eventTime: str
    job: Job
    producer: str
    schemaURL: str
    inputs: list[Dataset] = msgspec.field(default_factory=list)
    outputs: list[Dataset] = msgspec.field(default_factory=list)


AnyEvent = RunEvent | DatasetEvent | JobEvent


def parse_time(text: str) -> dt.datetime:
    """An event's RFC 3339 / ISO 8601 time (naive means UTC); bad text is an
    :class:`~threadline.errors.InvalidEvent`."""
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise InvalidEvent(f"eventTime {text!r} is not an ISO 8601 date-time") from exc


def classify(body: dict[str, Any]) -> type[AnyEvent]:
    """Which event type a JSON object is (the same rules the OpenLineage spec uses)."""
    if "run" in body:
        return RunEvent
    if "dataset" in body:
        return DatasetEvent
    if "job" in body:
        return JobEvent
    raise InvalidEvent("event has none of 'run', 'job' or 'dataset'", detail={"path": "$"})


def _check_event_type(event: AnyEvent) -> None:
    if (
        isinstance(event, RunEvent)
        and event.eventType is not None
        and event.eventType not in EVENT_TYPES
    ):
        raise InvalidEvent(
            f"eventType {event.eventType!r} is not one of {', '.join(EVENT_TYPES)}",
            detail={"path": "$.eventType"},
        )


def event_from_dict(body: Any) -> AnyEvent:
    """Decode and structurally check one event; raises :class:`InvalidEvent` naming the path."""
    if not isinstance(body, dict):
        raise InvalidEvent("an event must be a JSON object", detail={"path": "$"})
    cls = classify(body)
    try:
        event: AnyEvent = msgspec.convert(body, cls)
    except msgspec.ValidationError as exc:
        raise InvalidEvent(f"malformed event: {exc}", detail={"path": _msgspec_path(exc)}) from exc
    _check_event_type(event)
    parse_time(event.eventTime)
    return event


# What the store needs of an event to place it in the graph, and nothing more: the ingest
# policy (threadline.spec.ingest) accepts events that deviate from the schema elsewhere (no
# producer or schemaURL, a malformed facet), and the store must take them as they are.
_Identifier = Annotated[str, msgspec.Meta(min_length=1)]


class _Named(msgspec.Struct):
    namespace: _Identifier
    name: _Identifier


class _RunIdentity(msgspec.Struct):
    runId: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]  # the run columns' width


class _RunShape(msgspec.Struct):
    eventTime: str
    run: _RunIdentity
    job: _Named
    eventType: str | None = None
    inputs: list[_Named] | None = None
    outputs: list[_Named] | None = None


class _DatasetShape(msgspec.Struct):
    eventTime: str
    dataset: _Named


class _JobShape(msgspec.Struct):
    eventTime: str
    job: _Named
    inputs: list[_Named] | None = None
    outputs: list[_Named] | None = None


_DECODERS: Final[dict[type[AnyEvent], msgspec.json.Decoder[Any]]] = {
    RunEvent: msgspec.json.Decoder(_RunShape),
    DatasetEvent: msgspec.json.Decoder(_DatasetShape),
    JobEvent: msgspec.json.Decoder(_JobShape),
}


def check_canonical(body: dict[str, Any], canonical: bytes) -> None:
    """Check that an event already serialized to ``canonical`` JSON bytes names what the store
    indexes and links (run id, job, datasets, a known ``eventType``); anything else may deviate.

    Decoding the bytes is several times cheaper than converting the dict, which matters on
    the store's ingest path; the event time is checked by whoever parses it.
    """
    cls = classify(body)
    try:
        shape = _DECODERS[cls].decode(canonical)
    except msgspec.ValidationError as exc:
        raise InvalidEvent(f"malformed event: {exc}", detail={"path": _msgspec_path(exc)}) from exc
    event_type = getattr(shape, "eventType", None)
    if event_type is not None and event_type not in EVENT_TYPES:
        raise InvalidEvent(
            f"eventType {event_type!r} is not one of {', '.join(EVENT_TYPES)}",
            detail={"path": "$.eventType"},
        )


def event_to_dict(event: AnyEvent) -> dict[str, Any]:
    """The event's JSON object (what is canonicalized, hashed and stored)."""
    body: dict[str, Any] = msgspec.to_builtins(event)
    return body


def _msgspec_path(exc: msgspec.ValidationError) -> str:
    message = str(exc)
    marker = "at `"
    if marker in message:
        return message.split(marker, 1)[1].rstrip("`")
    return "$"
