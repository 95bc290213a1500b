"""Diff two model versions: inputs, parameters, code, upstream sources and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from threadline.query.graph import trace
from threadline.query.result import LineageGraph
from threadline.store.sql import SqlStore


@dataclass(frozen=True, slots=True)
class ModelDiff:
    a: str
    b: str
    inputs: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    code: dict[str, Any] = field(default_factory=dict)
    upstream: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return not any((self.inputs, self.parameters, self.code, self.upstream, self.metrics))

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "identical": self.identical,
            "inputs": self.inputs,
            "parameters": self.parameters,
            "code": self.code,
            "upstream": self.upstream,
            "metrics": self.metrics,
        }


def _producers(graph: LineageGraph) -> list[dict[str, Any]]:
    """Executions that wrote the root directly."""
    ids = {e["from"] for e in graph.edges if e["to"] == graph.root and e["relation"] == "output"}
    return [n for n in graph.nodes if n["id"] in ids]


def _direct_inputs(graph: LineageGraph, executions: list[dict[str, Any]]) -> dict[str, str]:
    ids = {x["id"] for x in executions}
    sources = {e["from"] for e in graph.edges if e["to"] in ids and e["relation"] == "input"}
    return {_key(graph.node(i)): graph.node(i)["version"] for i in sources}


def _sources(graph: LineageGraph) -> dict[str, str]:
    """Raw sources: data versions with nothing upstream of them."""
    has_parent = {e["to"] for e in graph.edges}
    return {
        _key(n): n["version"]
        for n in graph.nodes
        if n["kind"] != "job" and n["id"] not in has_parent and n["id"] != graph.root
    }


def _key(node: dict[str, Any]) -> str:
    return f"{node['kind']}:{node['namespace']}{'' if node['name'].startswith('/') else '/'}{node['name']}"


def _compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            out[key] = {"a": a.get(key), "b": b.get(key)}
    return out


def _merged(executions: list[dict[str, Any]], field_name: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for execution in executions:
        merged.update(execution.get(field_name) or {})
    return merged


def _metrics(store: SqlStore, ref: str) -> dict[str, float]:
    from threadline.query.graph import impact

    graph = impact(store, ref, depth=2, limit=200)
    merged: dict[str, float] = {}
    for node in graph.nodes:
        merged.update(node.get("metrics") or {})
    return merged


def _code(executions: list[dict[str, Any]]) -> dict[str, Any]:
    """Git commit, dirty flag and entry-script digest of the producing executions."""
    code = _merged(executions, "code")
    script = executions[0].get("script") if executions else None
    if isinstance(script, dict):
        code["script"] = script.get("digest")
    return code


def diff(store: SqlStore, a: str, b: str) -> ModelDiff:
    """What differs between two model versions (or any two data versions)."""
    ga, gb = trace(store, a, limit=5000), trace(store, b, limit=5000)
    pa, pb = _producers(ga), _producers(gb)
    code_a, code_b = _code(pa), _code(pb)
    return ModelDiff(
        a=ga.root,
        b=gb.root,
        inputs=_compare(_direct_inputs(ga, pa), _direct_inputs(gb, pb)),
        parameters=_compare(_merged(pa, "parameters"), _merged(pb, "parameters")),
        code=_compare(code_a, code_b),
        upstream=_compare(_sources(ga), _sources(gb)),
        metrics=_compare(_metrics(store, ga.root), _metrics(store, gb.root)),
    )
