"""Validate OpenLineage events against the shipped JSON schemas (Draft 2020-12, offline).

An event is checked twice over:

1. against its event type in the core schema (``OpenLineage.json#/$defs/RunEvent``,
   ``DatasetEvent`` or ``JobEvent``, chosen the way the spec tells them apart: ``run``, then
   ``dataset``, then ``job``), which also checks every facet's ``_producer``/``_schemaURL``;
2. each *standard* facet present against its own schema in ``facets/``.  A facet file names its
   key in ``properties`` (``{"schema": {"$ref": "#/$defs/SchemaDatasetFacet"}}``); the definition
   says where the facet lives through the base it extends (``RunFacet``, ``JobFacet``,
   ``DatasetFacet``, ``InputDatasetFacet``, ``OutputDatasetFacet``).  So ``ownership`` under
   ``job.facets`` is checked as ``OwnershipJobFacet`` and under a dataset's ``facets`` as
   ``OwnershipDatasetFacet``.  A dataset facet found in another dataset facet map than the one
   its schema names (``dataQualityAssertions`` in ``facets`` rather than ``inputFacets``) is
   still checked against that schema.  Unknown keys are custom facets: only the base facet
   rules apply.  A facet marked ``"_deleted": true`` is a deletion and is not checked further.

Every ``$ref`` between the files resolves through a :class:`referencing.Registry` built from
their ``$id`` values: nothing is fetched.  Validators are compiled once per
:class:`EventValidator`; build one and reuse it (it is safe to share between threads).  With
``jsonschema_rs`` the ``jsonschema`` validators are compiled (and ``jsonschema`` imported: a
tenth of a second of a process's start) only when an event first needs them.

Speed: the pure-Python ``jsonschema`` validator takes about a millisecond and a half for a
full event.  When the optional ``jsonschema_rs`` package is installed, the same schemas, registry
and format rules are also compiled with it and decide the common case (a valid event) in a few
microseconds; an event it refuses is checked again by ``jsonschema``, whose verdict and messages
are the ones reported.  A differential test holds the two to the same verdicts.

Formats: ``uuid`` is checked strictly (``run.runId`` must be a UUID: Marquez and the official
clients treat it as one).  ``date-time`` accepts any ISO 8601 text Python parses, with or
without an offset (naive means UTC, the store's rule): the reference client's own examples send
``2021-11-03T10:53:52.427343``, which strict RFC 3339 would refuse.  ``uri`` is not checked.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from threadline.errors import InvalidEvent
from threadline.model.times import parse_instant
from threadline.spec import openlineage_files

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator, FormatChecker, ValidationError

#: Nesting deeper than this is refused before validation (no real event comes close).
MAX_DEPTH: Final = 64
#: Problems listed in an error's ``detail`` at most.
MAX_PROBLEMS: Final = 10

_EVENT_TYPES: Final = ("RunEvent", "DatasetEvent", "JobEvent")
# Where a facet lives, by the core definition its schema extends.
_CONTEXT_BY_BASE: Final = {
    "RunFacet": "run",
    "JobFacet": "job",
    "DatasetFacet": "dataset",
    "InputDatasetFacet": "input",
    "OutputDatasetFacet": "output",
}
_DATASET_CONTEXTS: Final = ("dataset", "input", "output")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One way an event breaks the schema."""

    path: str
    """JSON path of the offending value, e.g. ``$.run.runId`` or ``$.inputs[0].facets.schema``."""
    message: str
    """What is wrong there, in the validator's words."""
    parts: tuple[str | int, ...] = field(default=(), compare=False, repr=False)
    """The same place as keys and indexes (``("run", "runId")``), when known."""

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def json_path(parts: Iterable[str | int], root: str = "$") -> str:
    """``$`` followed by ``.key``, ``['odd key']`` and ``[index]`` steps."""
    out = [root]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.match(part):
            out.append(f".{part}")
        else:
            out.append("[" + json.dumps(part) + "]")
    return "".join(out)


def is_uuid(value: object) -> bool:
    """The ``uuid`` format: the hyphenated RFC 4122 text form."""
    return not isinstance(value, str) or bool(_UUID.match(value))


def is_date_time(value: object) -> bool:
    """The ``date-time`` format as threadline reads it (see the module docstring)."""
    if not isinstance(value, str):
        return True
    try:
        parse_instant(value).timestamp()  # the store turns it into epoch microseconds
    except (ValueError, OverflowError):
        return False
    return True


def _any_string(value: object) -> bool:
    return True


#: Format rules, shared by both validators so that they agree.
FORMATS: Final = {"uuid": is_uuid, "date-time": is_date_time, "uri": _any_string}


def _format_checker() -> FormatChecker:
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    for name, check in FORMATS.items():
        if check is not _any_string:
            checker.checks(name)(check)
    return checker


def _accelerator() -> Any:
    """The ``jsonschema_rs`` module when installed (an optional speed-up), else None."""
    try:
        return importlib.import_module("jsonschema_rs")
    except ImportError:
        return None


def _load(folder: Traversable | Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / name).read_text(encoding="utf-8"))
    return data


def _local_ref(ref: str) -> str | None:
    prefix = "#/$defs/"
    return ref[len(prefix) :] if ref.startswith(prefix) else None


def _contexts_of(defs: Mapping[str, Any], name: str) -> set[str]:
    """Where the facet definition ``name`` may appear, from the core bases it extends."""
    found: set[str] = set()
    for part in defs.get(name, {}).get("allOf", []):
        ref = part.get("$ref", "") if isinstance(part, dict) else ""
        base = ref.rsplit("/", 1)[-1]
        if "OpenLineage.json#/$defs/" in ref and base in _CONTEXT_BY_BASE:
            found.add(_CONTEXT_BY_BASE[base])
    return found


def _facet_targets(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """``(context, facet key, definition name)`` for each facet a facet file declares."""
    defs: Mapping[str, Any] = schema.get("$defs", {})
    for key, prop in schema.get("properties", {}).items():
        pending = [prop]
        candidates: list[str] = []
        while pending:
            node = pending.pop()
            if not isinstance(node, dict):
                continue
            ref = _local_ref(str(node.get("$ref", "")))
            if ref is not None and ref in defs:
                if _contexts_of(defs, ref):
                    candidates.append(ref)
                else:
                    # A union such as BaseSubsetDatasetFacet: look inside its branches.
                    pending.extend(defs[ref].get("oneOf", []) + defs[ref].get("anyOf", []))
            pending.extend(node.get("oneOf", []) + node.get("anyOf", []))
        for name in candidates:
            for context in sorted(_contexts_of(defs, name)):
                yield context, key, name


class EventValidator:
    """Checks event bodies against the core schema and the standard facet schemas.

    Example::

        validator = EventValidator()
        validator.problems({"eventTime": "2024-01-01T00:00:00Z"})
        # [Problem(path='$.producer', message="'producer' is a required property"), ...]
    """

    def __init__(self, spec: Traversable | Path | None = None, *, accelerate: bool = True) -> None:
        if spec is None:
            spec = openlineage_files()
        core = _load(spec, "OpenLineage.json")
        self.core_id: str = core["$id"]
        resources: list[tuple[str, dict[str, Any]]] = [(self.core_id, core)]
        targets: dict[tuple[str, str], list[str]] = {}
        facets_dir = spec / "facets"
        for entry in sorted(facets_dir.iterdir(), key=lambda p: p.name):
            if not entry.name.endswith(".json"):
                continue
            schema = _load(facets_dir, entry.name)
            resources.append((schema["$id"], schema))
            for context, key, name in _facet_targets(schema):
                targets.setdefault((context, key), []).append(f"{schema['$id']}#/$defs/{name}")
        # A dataset facet met in a sibling map (facets / inputFacets / outputFacets).
        for context in _DATASET_CONTEXTS:
            for (other, key), refs in list(targets.items()):
                if other in _DATASET_CONTEXTS:
                    targets.setdefault((context, key), refs)
        event_refs = {name: [f"{self.core_id}#/$defs/{name}"] for name in _EVENT_TYPES}
        self._resources = resources
        self._targets = targets
        self._event_refs = event_refs
        self._python: _PythonChecks | None = None
        self._python_lock = threading.Lock()

        rs = _accelerator() if accelerate else None
        self._fast_events: dict[str, Any] | None = None
        self._fast_content: dict[tuple[str, str], Any] = {}
        self._fast_all_content: Any = None
        if rs is None:
            self._python_checks()  # every event needs them: compiled now, not mid-request
        else:
            if importlib.util.find_spec("jsonschema") is None:
                # An event the compiled checks refuse needs it: missing, say so now, as when
                # it was imported here, not at the first invalid event.
                raise ModuleNotFoundError("No module named 'jsonschema'", name="jsonschema")
            # A format every string passes is dropped from the compiled validators' schemas:
            # kept, each such string (every facet's _producer and _schemaURL) was a call back
            # into Python, a fifth of the compiled check (8.7 -> 6.9 us an event of the
            # official client's shape).  The others stay Python's rules, so that both
            # validators agree.
            resources = [(uri, _without_free_formats(contents)) for uri, contents in resources]
            rs_formats = {name: rule for name, rule in FORMATS.items() if rule is not _any_string}
            rs_registry = rs.Registry(resources)

            def compile_rs(schema: dict[str, Any]) -> Any:
                return rs.Draft202012Validator(
                    schema,
                    registry=rs_registry,
                    formats=rs_formats,
                    validate_formats=True,
                    offline=True,
                )

            # One schema per event type holding its standard facets too: one call into the
            # compiled validator per event, which converts the event once, instead of one
            # more per facet.
            self._fast_events = {
                name: compile_rs(_with_facets(refs[0], targets))
                for name, refs in event_refs.items()
            }
            # Whether a facet's *content* holds, its provenance aside (untrusted_facets): the
            # same schemas with _producer and _schemaURL required nowhere, checked on the facet
            # without them.  Producers often leave both out; deciding those facets here
            # instead of collecting every error in Python is most of ingest's time.
            content_registry = rs.Registry(
                [(uri, _without_provenance(contents)) for uri, contents in resources]
            )

            def compile_content(schema: dict[str, Any]) -> Any:
                return rs.Draft202012Validator(
                    schema,
                    registry=content_registry,
                    formats=rs_formats,
                    validate_formats=True,
                    offline=True,
                )

            self._fast_content = {
                place: compile_content(_ref_schema(refs)) for place, refs in targets.items()
            }
            # Every facet of an event at once, provenance left on: when that holds (the
            # common case), no facet is untrusted; otherwise the facets are checked one by one.
            self._fast_all_content = compile_content(_facet_schemas(targets, shapes=True))

    def _python_checks(self) -> _PythonChecks:
        """The ``jsonschema`` validators: of each event type and of each standard facet."""
        checks = self._python
        if checks is not None:
            return checks
        with self._python_lock:
            if self._python is None:
                self._python = _PythonChecks(self._resources, self._targets, self._event_refs)
            return self._python

    @property
    def accelerated(self) -> bool:
        """True when valid events are decided by the compiled ``jsonschema_rs`` validators."""
        return self._fast_events is not None

    @property
    def facet_keys(self) -> dict[str, list[str]]:
        """The standard facet keys checked in each context (``run``, ``job``, ``dataset``, …)."""
        out: dict[str, list[str]] = {}
        for context, key in sorted(self._targets):
            out.setdefault(context, []).append(key)
        return out

    # --- checking ---------------------------------------------------------------------------

    def problems(
        self,
        body: Any,
        limit: int | None = MAX_PROBLEMS,
        *,
        raw: bytes | None = None,
        nesting_checked: bool = False,
    ) -> list[Problem]:
        """Everything wrong with ``body`` (at most ``limit`` items, the most relevant first;
        ``None`` for all of them);
        an empty list means the event is valid.  ``raw``, the JSON text ``body`` was parsed
        from, lets a small event skip the nesting walk (it cannot nest deeper than the number
        of brackets it holds); ``nesting_checked``: the caller found :func:`nesting_problem`
        empty already."""
        if not isinstance(body, dict):
            return [Problem("$", f"an event must be a JSON object, not {json_type(body)}")]
        deep = None if nesting_checked else nesting_problem(body, raw)
        if deep is not None:
            return [deep]
        if self._fast_events is not None and self._fast_valid(body, self._fast_events):
            return []
        try:
            found = list(self._core_problems(body))
            found.extend(self._facet_problems(body))
        except RecursionError:
            return [Problem("$", "nested too deeply to validate")]
        unique: dict[tuple[str, str], Problem] = {}
        for problem in found:
            unique.setdefault((problem.path, problem.message), problem)
        return list(unique.values())[:limit]

    def validate(self, body: Any) -> None:
        """Raise :class:`~threadline.errors.InvalidEvent` naming the first offending JSON path."""
        found = self.problems(body)
        if found:
            raise invalid_event(found)

    def untrusted_facets(self, body: dict[str, Any]) -> list[tuple[str | int, ...]]:
        """Where a facet, or a whole facet map, fails its own schema: ``("inputs", 0,
        "facets", "schema")``, ``("run", "facets")``.  What is there is kept in the stored
        body but is not metadata anyone should rely on.

        A facet whose only fault is its provenance (``_producer`` or ``_schemaURL`` missing
        or malformed) is not listed: its content is still what its schema describes.  A facet
        map or a facet that is not a JSON object is listed; so is a standard facet that breaks
        its schema anywhere else.  Custom facets have no schema of their own to break.
        """
        everything = self._fast_all_content
        if everything is not None and everything.is_valid(body):
            return []
        found: list[tuple[str | int, ...]] = []
        content = self._fast_content
        for path, context, facets in _facet_slots(body):
            if not isinstance(facets, dict):
                found.append(path)
                continue
            for key, facet in facets.items():
                if not isinstance(facet, dict):
                    found.append((*path, key))
                    continue
                if (context, key) not in self._targets or facet.get("_deleted") is True:
                    continue
                quick = content.get((context, key))
                if quick is not None and quick.is_valid(_without_provenance_keys(facet)):
                    continue
                # Invalid content, or no accelerator: the errors themselves decide.
                validator = self._python_checks().facets[(context, key)]
                if _content_faults(list(validator.iter_errors(facet))):
                    found.append((*path, key))
        return found

    def _fast_valid(self, body: dict[str, Any], events: dict[str, Any]) -> bool:
        kind = _event_kind(body)
        return kind is not None and bool(events[kind].is_valid(body))

    def _core_problems(self, body: dict[str, Any]) -> Iterator[Problem]:
        kind = _event_kind(body)
        if kind is None:
            yield Problem(
                "$",
                "an OpenLineage event needs 'run' (RunEvent), 'job' (JobEvent) "
                "or 'dataset' (DatasetEvent)",
            )
            kind = "BaseEvent"
        yield from _from_errors(self._python_checks().events[kind].iter_errors(body))

    def _facet_problems(self, body: dict[str, Any]) -> Iterator[Problem]:
        validators = self._python_checks().facets
        for path, context, facets in _facet_maps(body):
            for key, facet in facets.items():
                validator = validators.get((context, key))
                if (
                    validator is None
                    or not isinstance(facet, dict)
                    or facet.get("_deleted") is True
                ):
                    continue
                yield from _from_errors(validator.iter_errors(facet), (*path, key))


class _PythonChecks:
    """The ``jsonschema`` validators of an :class:`EventValidator`, over the same schemas."""

    __slots__ = ("events", "facets")

    def __init__(
        self,
        resources: list[tuple[str, dict[str, Any]]],
        targets: Mapping[tuple[str, str], list[str]],
        event_refs: Mapping[str, list[str]],
    ) -> None:
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource

        registry: Registry[Any] = Registry().with_resources(
            (uri, Resource.from_contents(contents)) for uri, contents in resources
        )
        checker = _format_checker()

        def compile_py(refs: list[str]) -> Draft202012Validator:
            return Draft202012Validator(
                _ref_schema(refs), registry=registry, format_checker=checker
            )

        core_id = resources[0][0]
        self.events = {name: compile_py(refs) for name, refs in event_refs.items()}
        self.events["BaseEvent"] = compile_py([f"{core_id}#/$defs/BaseEvent"])
        self.facets = {place: compile_py(refs) for place, refs in targets.items()}


def _event_kind(body: dict[str, Any]) -> str | None:
    """The spec's own rule: ``run`` makes a RunEvent, else ``dataset``, else ``job``."""
    if "run" in body:
        return "RunEvent"
    if "dataset" in body:
        return "DatasetEvent"
    if "job" in body:
        return "JobEvent"
    return None


def _with_facets(event_ref: str, targets: Mapping[tuple[str, str], list[str]]) -> dict[str, Any]:
    """The event definition ``event_ref`` and its standard facets (:func:`_facet_schemas`)."""
    return {"allOf": [{"$ref": event_ref}, _facet_schemas(targets, shapes=False)]}


def _facet_schemas(targets: Mapping[tuple[str, str], list[str]], *, shapes: bool) -> dict[str, Any]:
    """Wherever :func:`_facet_slots` finds a facet map, each standard facet against its own
    schema, as the Python paths check them: a facet marked deleted is not checked.  A map or
    a facet that is not an object is left to the core schema, or with ``shapes`` refused (as
    :meth:`EventValidator.untrusted_facets` lists them)."""

    shape: dict[str, Any] = {"type": "object"} if shapes else {}

    def facet_map(context: str) -> dict[str, Any]:
        facets = {
            key: {**shape, "if": {"type": "object", "not": _DELETED}, "then": _ref_schema(refs)}
            for (where, key), refs in targets.items()
            if where == context
        }
        if not shapes:
            return {"properties": facets}
        return {"type": ["object", "null"], "properties": facets, "additionalProperties": shape}

    def datasets(extra: str, context: str) -> dict[str, Any]:
        return {
            "items": {"properties": {"facets": facet_map("dataset"), extra: facet_map(context)}}
        }

    return {
        "properties": {
            section: {"properties": {"facets": facet_map(section)}}
            for section in ("run", "job", "dataset")
        }
        | {
            "inputs": datasets("inputFacets", "input"),
            "outputs": datasets("outputFacets", "output"),
        }
    }


# A facet marked deleted: ``"_deleted": true`` exactly.
_DELETED: Final = {"required": ["_deleted"], "properties": {"_deleted": {"const": True}}}


def _ref_schema(refs: list[str]) -> dict[str, Any]:
    if len(refs) == 1:
        return {"$ref": refs[0]}
    return {"anyOf": [{"$ref": ref} for ref in refs]}


def invalid_event(
    problems: list[Problem],
    where: str = "",
    what: str = "does not match the OpenLineage schema at",
) -> InvalidEvent:
    """The error for a non-empty list of problems: the message names the first one
    (``{where}event {what} {path}: {message}``)."""
    first = problems[0]
    more = len(problems) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return InvalidEvent(
        f"{where}event {what} {first.path}: {first.message}{tail}",
        detail={"path": first.path, "problems": [p.to_dict() for p in problems]},
    )


def _from_errors(
    errors: Iterable[ValidationError], prefix: tuple[str | int, ...] = ()
) -> Iterator[Problem]:
    """Problems from jsonschema errors, the most relevant first; a missing property is
    reported at its own path (``$.producer``), a failed union through its best branch."""
    collected = list(errors)
    if not collected:
        return
    from jsonschema.exceptions import best_match

    first = best_match(collected)
    ordered = [first, *sorted((e for e in collected if e is not first), key=_error_key)]
    for error in ordered:
        while error.context:
            error = best_match(error.context)
        where = (*prefix, *error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [
                name
                for name in error.validator_value
                if isinstance(name, str) and name not in error.instance
            ]
            for name in missing:
                yield Problem(
                    json_path((*where, name)), f"{name!r} is a required property", (*where, name)
                )
            if missing:
                continue
        yield Problem(json_path(where), _short(error.message), where)


def _error_key(error: ValidationError) -> tuple[int, str]:
    path = list(error.absolute_path)
    return (len(path), json_path(path))


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _facet_maps(
    body: dict[str, Any],
) -> Iterator[tuple[tuple[str | int, ...], str, dict[str, Any]]]:
    """``(path, context, facets)`` for every non-empty facet map in an event, skipping
    malformed parts."""
    for path, context, facets in _facet_slots(body):
        if isinstance(facets, dict) and facets:
            yield path, context, facets


def _facet_slots(body: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str, Any]]:
    """``(path, context, value)`` wherever an event holds a facet map (``null`` aside),
    whatever the value's type."""
    for section in ("run", "job", "dataset"):
        holder = body.get(section)
        if isinstance(holder, dict) and holder.get("facets") is not None:
            yield (section, "facets"), section, holder["facets"]
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        items = body.get(side)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            if item.get("facets") is not None:
                yield (side, index, "facets"), "dataset", item["facets"]
            if item.get(extra) is not None:
                yield (side, index, extra), "input" if side == "inputs" else "output", item[extra]


_PROVENANCE: Final = frozenset({"_producer", "_schemaURL"})


def _content_faults(errors: list[ValidationError]) -> bool:
    """Whether a facet's errors touch more than its provenance fields.  A union (``anyOf``,
    a facet key with several schemas) fails on content only when every branch does."""
    for error in errors:
        if error.validator in ("anyOf", "oneOf") and error.context:
            branches: dict[Any, list[ValidationError]] = {}
            for sub in error.context:
                branches.setdefault(sub.relative_schema_path[0], []).append(sub)
            if all(_content_faults(branch) for branch in branches.values()):
                return True
            continue
        if not _provenance_only(error):
            return True
    return False


def _without_provenance(node: Any) -> Any:
    """A copy of the schema ``node`` in which no ``required`` names a provenance field."""
    if isinstance(node, dict):
        copy = {key: _without_provenance(value) for key, value in node.items()}
        required = copy.get("required")
        if isinstance(required, list):
            copy["required"] = [name for name in required if name not in _PROVENANCE]
        return copy
    if isinstance(node, list):
        return [_without_provenance(value) for value in node]
    return node


#: Keywords whose values are instances, not schemas: never rewritten.
_INSTANCE_KEYWORDS: Final = frozenset({"const", "default", "enum", "examples"})


def _without_free_formats(node: Any) -> Any:
    """A copy of the schema ``node`` without the ``format`` keywords whose rule accepts every
    string (:data:`FORMATS`: ``uri``)."""
    if isinstance(node, dict):
        return {
            key: value if key in _INSTANCE_KEYWORDS else _without_free_formats(value)
            for key, value in node.items()
            if not (
                key == "format" and isinstance(value, str) and FORMATS.get(value) is _any_string
            )
        }
    if isinstance(node, list):
        return [_without_free_formats(value) for value in node]
    return node


def _without_provenance_keys(facet: dict[str, Any]) -> dict[str, Any]:
    if "_producer" in facet or "_schemaURL" in facet:
        return {key: value for key, value in facet.items() if key not in _PROVENANCE}
    return facet


def _provenance_only(error: ValidationError) -> bool:
    path = list(error.absolute_path)
    if path:
        return path[0] in _PROVENANCE
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = {n for n in error.validator_value if n not in error.instance}
        return bool(missing) and missing <= _PROVENANCE
    return False


def nesting_problem(body: Any, raw: bytes | None = None) -> Problem | None:
    """The place where ``body`` nests deeper than :data:`MAX_DEPTH`, or None.  ``raw``, its
    JSON text, settles the common case by counting brackets."""
    if raw is not None and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        return None
    deep = _too_deep(body, MAX_DEPTH)
    return None if deep is None else Problem(deep, f"nested more than {MAX_DEPTH} levels deep")


def _too_deep(value: Any, limit: int) -> str | None:
    """The JSON path of a value nested more than ``limit`` levels, or None.

    The common case (not too deep) tracks depths only; paths are built once one is found.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return json_path(_path_to_depth(value, limit + 1))
        if type(item) is dict:
            stack.extend((child, depth + 1) for child in item.values() if type(child) in _NESTED)
        elif type(item) is list:
            stack.extend((child, depth + 1) for child in item if type(child) in _NESTED)
    return None


_NESTED: Final = (dict, list)


def _path_to_depth(value: Any, depth: int) -> list[str | int]:
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if len(path) >= depth:
            return path
        if isinstance(item, dict):
            stack.extend((child, [*path, key]) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((child, [*path, i]) for i, child in enumerate(item))
    return []


def json_type(value: Any) -> str:
    """How a JSON value's type reads in a message: ``a number``, ``an array``, ``null``…"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


__all__ = [
    "MAX_DEPTH",
    "EventValidator",
    "Problem",
    "invalid_event",
    "json_path",
    "json_type",
    "nesting_problem",
]
