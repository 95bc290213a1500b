"""W3C PROV from a :class:`~threadline.query.result.LineageGraph`, through the ``prov`` package.

Mapping (namespace prefix ``tl:`` = ``https://threadline.dev/ns#``; identifiers are the
printable node ids, percent-encoded):

=====================================  =====================================================
threadline                             PROV
=====================================  =====================================================
a data version (dataset, model, …)     ``prov:Entity`` (``tl:kind``, ``tl:namespace``,
                                       ``tl:name``, ``tl:version``, ``tl:firstSeen``)
an execution (``job:…@ex:…``)          ``prov:Activity`` (start and end from its runs)
the job it executes                    ``prov:SoftwareAgent`` (``wasAssociatedWith``)
the user who ran it, when recorded     ``prov:Person`` (``wasAssociatedWith``)
``input`` edge (data → execution)      ``used(activity, entity)``
``output`` edge (execution → data)     ``wasGeneratedBy(entity, activity)``
an output and an input of one          ``wasDerivedFrom(output, input, activity)``
execution
``derived`` edge (data → data)         ``wasDerivedFrom(derived, source)``
=====================================  =====================================================
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any, Final
from urllib.parse import quote

from prov.constants import PROV, PROV_TYPE
from prov.model import ProvDocument

from threadline.model.times import parse_instant_or_none
from threadline.query.result import LineageGraph, Node

NAMESPACE: Final = "https://threadline.dev/ns#"


def _qid(printable: str) -> str:
    return "tl:" + quote(printable, safe="")


def _time(text: Any) -> dt.datetime | None:
    return parse_instant_or_none(text)


def to_prov(graph: LineageGraph) -> ProvDocument:
    """The graph as a PROV document (see the module docstring)."""
    doc = ProvDocument()
    doc.add_namespace("tl", NAMESPACE)
    kinds: dict[str, str] = {}
    for node in graph.nodes:
        kinds[node["id"]] = node["kind"]
        if node["kind"] == "job":
            _activity(doc, node)
        else:
            attributes: dict[str, Any] = {
                "tl:kind": node["kind"],
                "tl:namespace": node["namespace"],
                "tl:name": node["name"],
                "tl:version": node["version"],
            }
            if node.get("first_seen"):
                attributes["tl:firstSeen"] = node["first_seen"]
            doc.entity(_qid(node["id"]), attributes)
    inputs: dict[str, list[str]] = {}
    outputs: dict[str, list[str]] = {}
    for edge in graph.edges:
        src, dst, relation = edge["from"], edge["to"], edge["relation"]
        if relation == "input":
            doc.used(_qid(dst), _qid(src))
            inputs.setdefault(dst, []).append(src)
        elif relation == "output":
            doc.wasGeneratedBy(_qid(dst), _qid(src))
            outputs.setdefault(src, []).append(dst)
        elif relation == "derived":
            doc.wasDerivedFrom(_qid(dst), _qid(src))
    for execution, made in outputs.items():
        for output in made:
            for source in inputs.get(execution, []):
                doc.wasDerivedFrom(_qid(output), _qid(source), _qid(execution))
    return doc


def _activity(doc: ProvDocument, node: Node) -> None:
    runs = node.get("runs") or {}
    attributes: dict[str, Any] = {
        "tl:namespace": node["namespace"],
        "tl:name": node["name"],
        "tl:version": node["version"],
    }
    if runs.get("count"):
        attributes["tl:runs"] = runs["count"]
    activity = doc.activity(
        _qid(node["id"]), _time(runs.get("first_seen")), _time(runs.get("last_seen")), attributes
    )
    job = "job:" + node.get("job", f"{node['namespace']}/{node['name']}")
    agent = doc.agent(_qid(job), {PROV_TYPE: PROV["SoftwareAgent"], "tl:name": node["name"]})
    doc.wasAssociatedWith(activity, agent)
    user = node.get("user")
    if isinstance(user, str) and user:
        person = doc.agent(_qid(f"user:{user}"), {PROV_TYPE: PROV["Person"], "tl:name": user})
        doc.wasAssociatedWith(activity, person)


def prov_json(graph: LineageGraph) -> str:
    """PROV-JSON text."""
    return str(to_prov(graph).serialize(format="json", indent=2))


def prov_o(graph: LineageGraph) -> str:
    """PROV-O as RDF Turtle (needs ``rdflib``)."""
    with warnings.catch_warnings():
        # rdflib 7 deprecates an attribute the prov package's serializer still reads.
        warnings.simplefilter("ignore", DeprecationWarning)
        return str(to_prov(graph).serialize(format="rdf", rdf_format="turtle"))


__all__ = ["NAMESPACE", "prov_json", "prov_o", "to_prov"]
