"""What a ``delete`` rule does to the log: the bodies that name an erased dataset version,
rewritten without it.

A dataset version selected by a ``delete`` rule (and not under a legal hold) is erased from
every event that names it:

* its entry in the event's ``inputs``/``outputs`` (or the ``dataset`` of a DatasetEvent) keeps
  its namespace, name and the facets that say what it was (``version``, the artifact kind,
  its classification labels) and loses every other facet (schema, column statistics,
  ownership, documentation, quality…) and its input/output facets; a ``threadline_erased``
  facet names the rule;
* when *every* version of the dataset is erased, its name goes too: the entry's name becomes
  a pseudonym (``erased/<digest>``, keyed by a random salt the run keeps in ``tl_meta`` until
  it ends, so the pseudonym is stable across a resumed run and cannot be recomputed from a
  guessed name afterwards), and the same substitution is made in every other string of the
  event that holds the name (a run's command line, a column lineage reference, a path in a
  parameter).  The job's namespace and name and the run id are never changed: they are
  indexed columns of the log.

The rest of the event (its run, job, other datasets) stays as it was, so the lineage around
the erased version keeps its shape: a trace still counts it, as a stub.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import blake3
import orjson

from threadline.model.canonical import canonical_json
from threadline.model.producer import PRODUCER
from threadline.store.projection import normalize_version

#: Facets an erased entry keeps: what it was, not what it held.
KEPT_FACETS: Final = frozenset({"version", "threadline_artifact", "threadline_classification"})
ERASED_FACET: Final = "threadline_erased"
ERASED_SCHEMA: Final = "https://threadline.dev/spec/facets/1-0-0/ErasedDatasetFacet.json"
#: Names shorter than this are substituted only where a string equals them: a short name
#: ("x", "data") inside longer strings is more often a coincidence than a reference.
MIN_SUBSTRING: Final = 6


@dataclass(frozen=True, slots=True)
class Target:
    """One dataset whose versions a rule erases."""

    namespace: str
    name: str
    rule: str
    versions: frozenset[str] | None
    """The versions erased; None: every version, and the name with them."""
    pseudonym: str | None = None
    """The name's replacement when every version is erased."""

    @property
    def whole(self) -> bool:
        return self.versions is None

    def needle(self) -> bytes:
        """The name as it appears inside a stored (JSON) body: a cheap first filter."""
        return orjson.dumps(self.name)[1:-1]


def pseudonym(salt: bytes, namespace: str, name: str) -> str:
    digest = blake3.blake3(salt + namespace.encode() + b"\0" + name.encode(), max_threads=1)
    return f"erased/{digest.hexdigest()[:24]}"


def _version_of(entry: Mapping[str, Any]) -> str | None:
    raw = (entry.get("facets") or {}).get("version")
    value = raw.get("datasetVersion") if isinstance(raw, dict) else None
    return normalize_version(value) if isinstance(value, str) and value else None


def _erased_entry(entry: Mapping[str, Any], target: Target) -> dict[str, Any]:
    facets = entry.get("facets") or {}
    kept = {k: v for k, v in facets.items() if k in KEPT_FACETS} if isinstance(facets, dict) else {}
    kept[ERASED_FACET] = {"_producer": PRODUCER, "_schemaURL": ERASED_SCHEMA, "rule": target.rule}
    return {
        "namespace": entry["namespace"],
        "name": target.pseudonym if target.whole and target.pseudonym else entry["name"],
        "facets": kept,
    }


def _entries(event: dict[str, Any]) -> Iterator[tuple[list[Any] | dict[str, Any], Any]]:
    """Each dataset entry of an event with the container and key that hold it."""
    for side in ("inputs", "outputs"):
        items = event.get(side)
        if isinstance(items, list):
            for index in range(len(items)):
                yield items, index
    if isinstance(event.get("dataset"), dict):
        yield event, "dataset"


def rewrite(
    event: dict[str, Any], targets: Mapping[tuple[str, str], Target]
) -> dict[str, Any] | None:
    """``event`` with the targets erased (see the module docstring), or None when it names
    none of them.  ``event`` itself is not changed."""
    out = orjson.loads(orjson.dumps(event))
    touched = False
    whole: list[Target] = []
    for holder, key in list(_entries(out)):
        entry = holder[key]
        if not isinstance(entry, dict):
            continue
        target = targets.get((entry.get("namespace"), entry.get("name")))  # type: ignore[arg-type]
        if target is None:
            continue
        if not target.whole and _version_of(entry) not in (target.versions or ()):
            continue
        holder[key] = _erased_entry(entry, target)
        touched = True
        if target.whole:
            whole.append(target)
    # Names of wholly erased datasets are replaced in every other string of the event.
    names = {t.name: t.pseudonym for t in targets.values() if t.whole and t.pseudonym}
    if names:
        replaced = _substitute(out, names)
        touched = touched or replaced
    return out if touched else None


def _substitute(event: dict[str, Any], names: Mapping[str, str]) -> bool:
    changed = False
    # Longest first: a name that contains another is replaced whole.
    ordered = sorted(names.items(), key=lambda item: -len(item[0]))

    def fix(text: str) -> str:
        nonlocal changed
        for name, alias in ordered:
            if text == name or (len(name) >= MIN_SUBSTRING and name in text):
                text = text.replace(name, alias)
                changed = True
        return text

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return fix(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    for key in list(event):
        if key == "job":
            job = event["job"]
            if isinstance(job, dict):  # its namespace and name are indexed columns: kept
                event["job"] = {
                    k: (v if k in ("namespace", "name") else walk(v)) for k, v in job.items()
                }
        elif key == "run":
            run = event["run"]
            if isinstance(run, dict):
                event["run"] = {k: (v if k == "runId" else walk(v)) for k, v in run.items()}
        elif key in ("inputs", "outputs") and isinstance(event[key], list):
            event[key] = [_walk_entry(entry, walk) for entry in event[key]]
        elif key == "dataset":
            event[key] = _walk_entry(event[key], walk)
        elif key not in ("eventTime", "eventType", "producer", "schemaURL"):
            event[key] = walk(event[key])
    return changed


def _walk_entry(entry: Any, walk: Any) -> Any:
    # Another dataset's own name is its identity: a name that merely contains an erased one
    # ("/data/raw.csv.bak") is another dataset and keeps its name; its facets are walked.
    if not isinstance(entry, dict):
        return entry
    return {k: (v if k in ("namespace", "name") else walk(v)) for k, v in entry.items()}


def mentions(body: bytes, targets: Mapping[tuple[str, str], Target], needles: list[bytes]) -> bool:
    """Whether a stored body names a version of a target (an ``archive`` rule's selection)."""
    if not any(needle in body for needle in needles):
        return False
    for holder, key in _entries(orjson.loads(body)):
        entry = holder[key]
        if not isinstance(entry, dict):
            continue
        target = targets.get((entry.get("namespace"), entry.get("name")))  # type: ignore[arg-type]
        if target is not None and (target.whole or _version_of(entry) in (target.versions or ())):
            return True
    return False


def rewritten_body(
    body: bytes, targets: Mapping[tuple[str, str], Target], needles: list[bytes]
) -> bytes | None:
    """The canonical body a stored record gets, or None when it names no target."""
    if not any(needle in body for needle in needles):
        return None
    event = orjson.loads(body)
    new = rewrite(event, targets)
    if new is None:
        return None
    text = canonical_json(new)
    return text if text != body else None


__all__ = [
    "ERASED_FACET",
    "KEPT_FACETS",
    "Target",
    "mentions",
    "pseudonym",
    "rewrite",
    "rewritten_body",
]
