"""What every route needs: one table, keyed by method and path template.

Each :class:`Rule` names the role a request needs (``None``: public) and where the namespace it
acts on comes from:

``path``
    the ``{namespace}`` path segment (Marquez reads, tags): the role is needed on it;
``body``
    the events of an ingest body: the role is needed on each event's job (or dataset) namespace;
``run``
    the run named by ``{run_id}`` / ``?runId=``: the role is needed on its job's namespace;
``query``
    the ``?namespace=`` values when given (search, stream), each needing the role; without
    them, as ``answer``;
``answer``
    the role anywhere; what the answer shows of namespaces the caller may not read is removed
    or reduced to stubs (see :mod:`.redact`);
``everywhere``
    the role on ``*`` (answers that cannot be split by namespace: the sources list, producer
    counts).

``shape`` says how an answer is reduced: ``stub`` keeps a hidden node's id (pseudonymous),
kind and edges, so counts stay honest; ``drop`` removes the list item holding it (search hits,
raw events, namespaces); ``graph`` answers (trace, impact) are stubbed the same way by their
handler, which knows their shape and the labels every node carries
(:func:`~threadline.server.auth.redact.reduce_graph`), so the guard does not re-read them.  A route missing from :data:`RULES` is refused (default deny), and a
test fails for every route of the app that has no rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import unquote

from threadline.server.auth.grants import Role

Source = Literal["none", "path", "body", "run", "query", "answer", "everywhere"]
Shape = Literal["raw", "stub", "drop", "namespaces", "stream", "graph"]


@dataclass(frozen=True, slots=True)
class Rule:
    role: Role | None
    source: Source = "answer"
    shape: Shape = "stub"
    #: The query parameter naming a run or namespaces (``source`` run or query).
    param: str | None = None

    @property
    def public(self) -> bool:
        return self.role is None


PUBLIC: Final = Rule(None, "none", "raw")
_READ_PATH: Final = Rule(Role.viewer, "path")
_TAG: Final = Rule(Role.steward, "path")
_GRAPH: Final = Rule(Role.viewer, "answer", "stub")
_OWN_GRAPH: Final = Rule(Role.viewer, "answer", "graph")
_LIST: Final = Rule(Role.viewer, "answer", "drop")

#: (method, path template) -> rule.  ``HEAD`` follows ``GET``.
RULES: Final[dict[tuple[str, str], Rule]] = {
    # Server and documentation: no lineage in them.
    ("GET", "/api/v1/health"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/assets/{path}"): PUBLIC,
    # A signed checkpoint is meant to be published (C2SP tlog-checkpoint).
    ("GET", "/api/v1/checkpoint"): PUBLIC,
    # OpenLineage ingest and the raw log.
    ("POST", "/api/v1/lineage"): Rule(Role.producer, "body", "raw"),
    ("POST", "/api/v1/lineage/batch"): Rule(Role.producer, "body", "raw"),
    ("GET", "/api/v1/lineage"): _GRAPH,
    ("GET", "/api/v1/events"): _LIST,
    ("GET", "/api/v1/events/lineage"): _LIST,
    ("GET", "/api/v1/threadline/producers"): Rule(Role.viewer, "everywhere", "raw"),
    ("GET", "/api/v1/stream"): Rule(Role.viewer, "query", "stream", "namespace"),
    # Marquez reads.
    ("GET", "/api/v1/namespaces"): Rule(Role.viewer, "answer", "namespaces"),
    ("GET", "/api/v1/namespaces/{namespace}"): _READ_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/datasets"): _READ_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/datasets/{dataset}"): _READ_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions"): _READ_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions/{version}"): _READ_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/jobs"): _READ_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/jobs/{job}"): _READ_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/jobs/{job}/versions"): _READ_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/jobs/{job}/versions/{version}"): _READ_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/jobs/{job}/runs"): _READ_PATH,
    ("GET", "/api/v1/jobs/runs/{run_id}"): Rule(Role.viewer, "run", "stub", "run_id"),
    ("GET", "/api/v1/jobs/runs/{run_id}/facets"): Rule(Role.viewer, "run", "stub", "run_id"),
    ("GET", "/api/v1/sources"): Rule(Role.viewer, "everywhere", "raw"),
    ("GET", "/api/v1/sources/{source}"): Rule(Role.viewer, "everywhere", "raw"),
    ("GET", "/api/v1/search"): Rule(Role.viewer, "query", "drop", "namespace"),
    ("GET", "/api/v1/column-lineage"): _GRAPH,
    ("GET", "/api/v1/runlineage/upstream"): Rule(Role.viewer, "run", "stub", "runId"),
    ("GET", "/api/v1/tags"): Rule(Role.viewer, "answer", "raw"),
    # Marquez tag changes: stewardship.
    **{
        (method, path): _TAG
        for method in ("POST", "PUT", "DELETE")
        for path in (
            "/api/v1/namespaces/{namespace}/datasets/{dataset}/tags/{tag}",
            "/api/v1/namespaces/{namespace}/datasets/{dataset}/fields/{field}/tags/{tag}",
            "/api/v1/namespaces/{namespace}/jobs/{job}/tags/{tag}",
        )
    },
    # threadline's own questions.
    ("GET", "/api/v1/threadline/trace"): _OWN_GRAPH,
    ("GET", "/api/v1/threadline/impact"): _OWN_GRAPH,
    ("GET", "/api/v1/threadline/show"): _GRAPH,
    ("GET", "/api/v1/threadline/diff"): _GRAPH,
    ("GET", "/api/v1/threadline/log"): _LIST,
    ("GET", "/api/v1/threadline/search"): Rule(Role.viewer, "query", "drop", "namespace"),
    # Capture asks it while recording (a yes/no per dataset): any reader or producer.
    ("POST", "/api/v1/threadline/produced"): Rule(Role.viewer, "answer", "raw"),
    # Health findings and alerts name nodes of every namespace: a viewer of all of them.
    ("GET", "/api/v1/threadline/health"): Rule(Role.viewer, "everywhere", "raw"),
    ("GET", "/api/v1/threadline/health/stream"): Rule(Role.viewer, "everywhere", "raw"),
    ("GET", "/api/v1/threadline/health/deliveries"): Rule(Role.viewer, "everywhere", "raw"),
    ("GET", "/api/v1/threadline/health/history"): Rule(Role.viewer, "everywhere", "raw"),
    # The web UI: the page and its assets hold no lineage (the API calls they make are
    # checked one by one), and a browser fetches them before it can present a token.
    ("GET", "/"): PUBLIC,
    ("GET", "/ui"): PUBLIC,
    ("GET", "/ui/assets/{path}"): PUBLIC,
    ("GET", "/ui/{path}"): PUBLIC,
}


@dataclass(frozen=True, slots=True)
class Match:
    rule: Rule
    template: str
    #: Path parameters, each segment percent-decoded once.
    params: dict[str, str]


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    pattern = "".join(
        f"(?P<{p[1:-1]}>{'.+' if p == '{path}' else '[^/]+'})"
        if p.startswith("{")
        else re.escape(p)
        for p in parts
    )
    return re.compile(f"^{pattern}$")


_COMPILED: Final = [
    (method, template, _compile(template), rule) for (method, template), rule in RULES.items()
]


def match(method: str, raw_path: str) -> Match | None:
    """The rule for a request (``raw_path`` still percent-encoded), ``None``: no rule."""

    wanted = "GET" if method == "HEAD" else method
    for rule_method, template, pattern, rule in _COMPILED:
        if rule_method != wanted:
            continue
        found = pattern.match(raw_path)
        if found:
            params = {k: unquote(v) for k, v in found.groupdict().items()}
            return Match(rule, template, params)
    return None


__all__ = ["PUBLIC", "RULES", "Match", "Rule", "match"]
