"""An installed capture session over a real SQLite store, for in-process hook tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from threadline.capture.api import RunRecorder
from threadline.capture.emitter import Emitter
from threadline.capture.hooks import Hooks
from threadline.capture.recorder import Capture
from threadline.store import schema as s
from threadline.store.sql import SqlStore


@dataclass
class Captured:
    """An installed capture session writing into ``store``."""

    capture: Capture
    hooks: Hooks
    store: SqlStore
    emitter: Emitter
    root: RunRecorder
    folder: Path

    def finish(self) -> None:
        self.capture.finish()
        self.emitter.flush(10)

    def edges(self) -> set[tuple[str, str, str]]:
        """(source, relation, destination) with short node names (file base names)."""
        self.finish()

        def query(conn: Any) -> set[tuple[str, str, str]]:
            nodes = {r.id: r for r in conn.execute(sa.select(s.nodes))}
            versions = {r.id: r for r in conn.execute(sa.select(s.versions))}

            def name(vid: int) -> str:
                node = nodes[versions[vid].node_id]
                short = Path(node.name).name if node.namespace.startswith("file://") else node.name
                return f"{node.kind}:{short}"

            return {
                (name(e.src), e.relation, name(e.dst)) for e in conn.execute(sa.select(s.edges))
            }

        result: set[tuple[str, str, str]] = self.store.read(query)
        return result

    def upstream(self, label: str) -> set[str]:
        edges = self.edges()
        found: set[str] = set()
        todo = [label]
        while todo:
            current = todo.pop()
            for src, _, dst in edges:
                if dst == current and src not in found:
                    found.add(src)
                    todo.append(src)
        return {n for n in found if not n.startswith("job:")}
