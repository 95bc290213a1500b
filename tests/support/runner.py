"""Helpers of the end-to-end tests: run scripts under ``threadline run``, read the graph."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from threadline.store import open_store
from threadline.store import schema as s

#: ``threadline run`` through ``register()`` alone, so these tests need no other CLI module.
DRIVER = textwrap.dedent(
    """
    import typer
    from threadline.cli.capture import register

    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        pass

    app()
    """
)


@dataclass
class Graph:
    """The derived graph tables of a store, with names made short and stable for asserts."""

    nodes: dict[int, Any]
    versions: dict[int, Any]
    edges: list[Any]
    runs: list[Any]
    root: Path

    def name(self, version_id: int) -> str:
        node = self.nodes[self.versions[version_id].node_id]
        name = node.name
        if node.namespace.startswith("file://"):
            with contextlib.suppress(ValueError):
                name = Path(name).relative_to(self.root).as_posix()
        return f"{node.kind}:{name}"

    def triples(self) -> set[tuple[str, str, str]]:
        return {(self.name(e.src), e.relation, self.name(e.dst)) for e in self.edges}

    def versions_of(self, label: str) -> list[Any]:
        return [v for vid, v in self.versions.items() if self.name(vid) == label]

    def latest(self, label: str) -> Any:
        found = self.versions_of(label)
        assert found, f"no version of {label}; have {sorted({self.name(v) for v in self.versions})}"
        return max(found, key=lambda v: v.first_seq)

    def upstream(self, label: str) -> set[str]:
        """Every node upstream of the newest version of ``label`` (jobs included)."""
        start = self.latest(label).id
        incoming: dict[int, list[int]] = {}
        for edge in self.edges:
            incoming.setdefault(edge.dst, []).append(edge.src)
        seen: set[int] = set()
        todo = [start]
        while todo:
            current = todo.pop()
            for src in incoming.get(current, []):
                if src not in seen:
                    seen.add(src)
                    todo.append(src)
        return {self.name(v) for v in seen}

    def data_upstream(self, label: str) -> set[str]:
        return {n for n in self.upstream(label) if not n.startswith("job:")}

    def facets(self, label: str) -> dict[str, Any]:
        out: dict[str, Any] = orjson.loads(self.latest(label).facets)
        return out

    def node_facets(self, label: str) -> dict[str, Any]:
        out: dict[str, Any] = orjson.loads(self.nodes[self.latest(label).node_id].facets)
        return out

    def run(self, job: str) -> Any:
        matches = [r for r in self.runs if self.nodes[r.job_node_id].name == job]
        assert matches, (
            f"no run of {job}; have {sorted(self.nodes[r.job_node_id].name for r in self.runs)}"
        )
        return matches[-1]

    def capture_facet(self, job: str) -> dict[str, Any]:
        """The ``threadline_capture`` facet of the latest run of ``job``."""
        out: dict[str, Any] = orjson.loads(self.run(job).facets)["threadline_capture"]
        return out

    def job_facets(self, job: str) -> dict[str, Any]:
        out: dict[str, Any] = orjson.loads(self.nodes[self.run(job).job_node_id].facets)
        return out

    def stage(self, job: str) -> str | None:
        stage = self.job_facets(job).get("threadline_stage")
        return stage["stage"] if stage else None


def read_graph(db: Path, root: Path) -> Graph:
    store = open_store(db)
    try:

        def query(conn: Any) -> Graph:
            return Graph(
                nodes={r.id: r for r in conn.execute(sa.select(s.nodes))},
                versions={r.id: r for r in conn.execute(sa.select(s.versions))},
                edges=list(conn.execute(sa.select(s.edges))),
                runs=list(conn.execute(sa.select(s.runs).order_by(s.runs.c.first_seq))),
                root=root,
            )

        graph: Graph = store.read(query)
        return graph
    finally:
        store.close()


@dataclass
class Project:
    """A temporary project folder with its own store."""

    root: Path
    db: Path

    @classmethod
    def beside(cls, folder: Path) -> Project:
        """A project in ``folder``/proj with its store beside it, in ``folder``."""
        root = folder / "proj"
        root.mkdir()
        return cls(root=root.resolve(), db=folder / "lineage.db")

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text))
        return path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
        env["THREADLINE_STORE"] = str(self.db)
        env.update(extra)
        return env

    def run(
        self, *command: str, options: tuple[str, ...] = (), check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``threadline run [options] -- command…`` in the project folder."""
        done = subprocess.run(
            [sys.executable, "-c", DRIVER, "run", *options, "--", *command],
            cwd=self.root,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def python(self, script: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, script, *args, **kwargs)

    def graph(self) -> Graph:
        return read_graph(self.db, self.root)
