"""Versions as Marquez names them: a UUID per version (:func:`version_uuid`).

threadline's version tokens say what a version is (``b3:…`` a content digest, ``run:<runId>``
an unversioned output, ``ex:…`` an execution, ``v:…`` a producer's ``datasetVersion``);
Marquez's API, and clients that parse its answers into typed models (``marquez-java`` reads
every version into a ``java.util.UUID``), want a UUID.  Each version gets a deterministic one,
a UUIDv5 of its node and token, so the same version has the same UUID in every answer, every
store and every run of the server, and :func:`version_by_token_or_uuid` finds a version by
either name.
"""

from __future__ import annotations

import uuid
from typing import Final

#: The UUIDv5 namespace of threadline's Marquez version ids (a UUIDv5 of the project URL).
VERSION_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://threadline.dev/marquez/version")


def version_uuid(namespace: str, name: str, token: str) -> str:
    """The UUID Marquez's API shows for version ``token`` of the node ``namespace``/``name``."""
    return str(uuid.uuid5(VERSION_NAMESPACE, f"{namespace}\0{name}\0{token}"))


def as_uuid(text: str) -> str | None:
    """``text`` in canonical UUID form, or ``None`` when it is not a UUID."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


__all__ = ["VERSION_NAMESPACE", "as_uuid", "version_uuid"]
