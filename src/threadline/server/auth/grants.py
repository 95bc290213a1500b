"""Who a request is and what it may do: roles per namespace, clearances per label.

A :class:`Grant` gives one role on one namespace (``*``: every namespace).  Roles are ordered,
each holding the rights of those below it::

    viewer < producer < steward < admin
    read     post events  tags, labels,     tokens, roles
                          policies, lifecycle

An :class:`Identity` is the grants and clearances of one token or one OIDC subject.

Which namespaces are access-controlled: threadline namespaces (a job's namespace, and a
dataset's when it is a project word such as ``fraud``) must be granted.  Datasets addressed by
a storage location (``file://host``, ``s3://bucket``, ``postgres://db:5432``: anything with
``://``) are shared by every project that reads or writes them, so any identity allowed to read
somewhere may see them; their classification labels (``pii``) protect them instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from threadline.errors import UsageError


class Role(IntEnum):
    """A role on a namespace; a higher role holds every right of the lower ones."""

    viewer = 1
    producer = 2
    steward = 3
    admin = 4

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().lower()]
        except KeyError:
            names = ", ".join(role.name for role in cls)
            raise UsageError(f"role {text!r} is not one of {names}") from None


#: Every namespace.
ANY_NAMESPACE: Final = "*"
#: Labels that hide a dataset from identities without the matching clearance.
CLASSIFIED_LABELS: Final = frozenset({"pii", "phi", "pci", "confidential", "secret"})
#: The namespace of the access log's own events (token changes, denied requests).
ACCESS_NAMESPACE: Final = "threadline.auth"


def is_storage_namespace(namespace: str) -> bool:
    """A dataset namespace naming where data is stored, shared by every project."""
    return "://" in namespace


@dataclass(frozen=True, slots=True)
class Grant:
    role: Role
    namespace: str

    @classmethod
    def parse(cls, text: str) -> Grant:
        """``role:namespace`` (an OIDC roles claim entry)."""
        role, sep, namespace = text.partition(":")
        if not sep or not namespace.strip():
            raise UsageError(f"grant {text!r} is not role:namespace (e.g. viewer:fraud)")
        return cls(Role.parse(role), namespace.strip())


@dataclass(frozen=True, slots=True)
class Identity:
    """What one caller may do: its grants and clearances."""

    subject: str
    grants: tuple[Grant, ...]
    clearances: frozenset[str] = field(default_factory=frozenset)

    def role_on(self, namespace: str) -> Role | None:
        best: Role | None = None
        for grant in self.grants:
            if grant.namespace in (namespace, ANY_NAMESPACE) and (
                best is None or grant.role > best
            ):
                best = grant.role
        return best

    def may(self, role: Role, namespace: str) -> bool:
        """Holds ``role`` (or a higher one) on ``namespace``."""
        held = self.role_on(namespace)
        if held is None and is_storage_namespace(namespace):
            # Shared storage: any grant of the role somewhere.
            held = self.best_role()
        return held is not None and held >= role

    def best_role(self) -> Role | None:
        return max((grant.role for grant in self.grants), default=None)

    def may_anywhere(self, role: Role) -> bool:
        best = self.best_role()
        return best is not None and best >= role

    def may_everywhere(self, role: Role) -> bool:
        return any(g.namespace == ANY_NAMESPACE and g.role >= role for g in self.grants)

    def cleared_for(self, labels: Iterable[str]) -> bool:
        """Cleared for every classified label among ``labels``."""
        return all(label in self.clearances for label in labels if label in CLASSIFIED_LABELS)


__all__ = [
    "ACCESS_NAMESPACE",
    "ANY_NAMESPACE",
    "CLASSIFIED_LABELS",
    "Grant",
    "Identity",
    "Role",
    "is_storage_namespace",
]
