"""``threadline attest``: a model's provenance as a signed in-toto attestation.

The attestation is an in-toto Statement v1 (https://in-toto.io/Statement/v1) whose predicate
is SLSA Provenance v1 (https://slsa.dev/provenance/v1), in a DSSE envelope signed with the
same Ed25519 key as checkpoints (:mod:`threadline.integrity.dsse`):

* ``subject``: the model file, by its bytes: ``sha256`` (the algorithm every in-toto verifier
  knows) and ``blake3`` (threadline's own version token, ``b3:…``);
* ``buildDefinition.externalParameters``: the job that produced the model and its parameters;
* ``buildDefinition.resolvedDependencies``: everything upstream in the trace: each dataset,
  feature and model version (``blake3`` digest when its version is a content fingerprint),
  each job's code commit (``gitCommit``) and script, and each job's parameters (their
  canonical JSON as ``content``, with its ``sha256``);
* ``runDetails``: threadline as the builder, the producing run's id and times.

The model is found by its current content, like every path threadline is given
(:mod:`threadline.query.resolve`); one never recorded is a
:class:`~threadline.errors.NotFound`.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import orjson

from threadline._version import __version__
from threadline.errors import UsageError
from threadline.fingerprint import fingerprint_file
from threadline.integrity.dsse import sign_envelope
from threadline.integrity.signing import SigningKey
from threadline.model.canonical import canonical_json
from threadline.query import trace
from threadline.store.base import Store

STATEMENT_TYPE: Final = "https://in-toto.io/Statement/v1"
PROVENANCE_TYPE: Final = "https://slsa.dev/provenance/v1"
#: Names how threadline builds the predicate: from a recorded lineage trace.
BUILD_TYPE: Final = "https://github.com/threadline-dev/threadline/attestation/lineage-trace/v1"
BUILDER_ID: Final = "https://github.com/threadline-dev/threadline"

_READ: Final = 1 << 20


def attest(store: Store, model: str | os.PathLike[str], key: SigningKey) -> dict[str, Any]:
    """The DSSE envelope of the signed provenance statement of the model file ``model``."""
    return sign_envelope(canonical_json(statement(store, model)), key)


def statement(store: Store, model: str | os.PathLike[str]) -> dict[str, Any]:
    """The in-toto Statement v1 with the SLSA Provenance v1 predicate of ``model``."""
    path = Path(model)
    if not path.is_file():
        raise UsageError(
            f"{path} is not a file: threadline attest signs one model file's digest",
            detail={"path": str(path)},
        )
    version = fingerprint_file(path)
    graph = trace(store, str(path), limit=None)
    root = graph.node(graph.root)
    producers = [
        graph.node(edge["from"])
        for edge in graph.edges
        if edge["to"] == graph.root and edge["relation"] == "output"
    ]
    producer = producers[0] if producers else None
    subject = {
        "name": path.name,
        "digest": {"sha256": _sha256(path), "blake3": version.removeprefix("b3:")},
        "annotations": {"threadline": graph.root, "kind": root.get("kind")},
    }
    runs = (producer or {}).get("runs") or {}
    run_ids = runs.get("ids") or []
    metadata: dict[str, Any] = {}
    if run_ids:
        metadata["invocationId"] = run_ids[-1]
    if runs.get("first_seen"):
        metadata["startedOn"] = runs["first_seen"]
    if runs.get("last_seen"):
        metadata["finishedOn"] = runs["last_seen"]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [subject],
        "predicateType": PROVENANCE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "job": (producer or {}).get("job"),
                    "execution": (producer or {}).get("id"),
                    "parameters": (producer or {}).get("parameters") or {},
                },
                "resolvedDependencies": list(
                    _dependencies(n for n in graph.nodes if n["id"] != graph.root)
                ),
            },
            "runDetails": {
                "builder": {"id": BUILDER_ID, "version": {"threadline": __version__}},
                "metadata": metadata,
            },
        },
    }


def _dependencies(nodes: Iterator[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """SLSA ResourceDescriptors of the upstream vertices, in trace order."""
    for node in nodes:
        if node.get("kind") == "job":
            yield from _job_dependencies(node)
            continue
        descriptor: dict[str, Any] = {
            "uri": f"{node['namespace']}{node['name']}"
            if str(node["namespace"]).endswith("//") or str(node["name"]).startswith("/")
            else f"{node['namespace']}/{node['name']}",
            "name": node["id"],
            "annotations": {"kind": node.get("kind"), "version": node.get("version")},
        }
        digest = _blake3(node.get("version"))
        if digest is not None:
            descriptor["digest"] = {"blake3": digest}
        yield descriptor


def _job_dependencies(job: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    code = job.get("code") or {}
    name = job.get("job") or job["id"]
    if code.get("commit"):
        yield {
            "name": f"code of {name}",
            "digest": {"gitCommit": code["commit"]},
            "annotations": {
                "job": name,
                "execution": job["id"],
                "branch": code.get("branch"),
                "dirty": code.get("dirty"),
            },
        }
    script = _blake3(code.get("script"))
    if script is not None:
        yield {
            "name": f"script of {name}",
            "digest": {"blake3": script},
            "annotations": {"job": name, "execution": job["id"]},
        }
    parameters = job.get("parameters")
    if parameters:
        content = canonical_json(parameters)
        yield {
            "name": f"parameters of {name}",
            "digest": {"sha256": hashlib.sha256(content).hexdigest()},
            "content": base64.b64encode(content).decode("ascii"),
            "mediaType": "application/json",
            "annotations": {"job": name, "execution": job["id"], "parameters": parameters},
        }


def _blake3(version: Any) -> str | None:
    """The hex digest of a ``b3:<64 hex>`` content version; None for any other version."""
    if not isinstance(version, str) or not version.startswith("b3:"):
        return None
    digest = version[3:]
    try:
        return digest if len(bytes.fromhex(digest)) == 32 else None
    except ValueError:
        return None


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_READ):
            hasher.update(chunk)
    return hasher.hexdigest()


def envelope_text(envelope: Mapping[str, Any]) -> str:
    """The envelope as written to a file (JSON, indented)."""
    return orjson.dumps(envelope, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"


__all__ = [
    "BUILDER_ID",
    "BUILD_TYPE",
    "PROVENANCE_TYPE",
    "STATEMENT_TYPE",
    "attest",
    "envelope_text",
    "statement",
]
