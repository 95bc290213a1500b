"""All terminal output of the CLI: Rich trees for lineage, tables for the rest, JSON for --json.

Every function takes the ``to_dict()`` form of a query result, so what a terminal shows and what
``--json`` prints come from the same data.  Recorded text (names, reasons, labels) is wrapped
in :class:`rich.text.Text`, never parsed as markup, so a file called ``[red]x.csv`` prints as
itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

ICONS: Final = {
    "dataset": "▤",
    "features": "◫",
    "model": "◆",
    "evaluation": "✓",
    "deployment": "⇪",
    "predictions": "◎",
    "job": "⚙",
}
#: Order of siblings in a tree: executions, then data from raw to served.
_KIND_ORDER: Final = {kind: index for index, kind in enumerate(ICONS)}
_LONG_NAME: Final = 56
#: Width when output goes to a pipe or a file (a terminal gives its own): wide enough that
#: no tree line or table cell is wrapped or cut; nothing is padded to it.
_PIPED_WIDTH: Final = 1000


def _stdout() -> Console:
    # Built per call: Rich then writes to whatever sys.stdout is now (CliRunner swaps it).
    # Piped output is not wrapped, so each tree line stays one line for grep and friends.
    console = Console(highlight=False)
    if not console.is_terminal:
        console.soft_wrap = True
        if "COLUMNS" not in os.environ:
            console.width = _PIPED_WIDTH
    return console


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout (orjson; keys in the order the result built them)."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def error(message: str) -> None:
    """The one line a failed command prints, on stderr."""
    Console(stderr=True, highlight=False).print(Text(f"error: {message}"), soft_wrap=True)


# --- pieces -------------------------------------------------------------------------------------


def short(version: str | None, width: int = 12) -> str:
    """``b3:5bb4af4322ff`` from ``b3:5bb4af4322ff…`` (the prefix and ``width`` characters)."""
    if not version:
        return ""
    prefix, sep, rest = version.partition(":")
    return f"{prefix}:{rest[:width]}" if sep else version[:width]


def display_name(node: Mapping[str, Any]) -> str:
    """A node's name as a person reads it: local paths relative to here, long ones shortened."""
    name = str(node["name"])
    namespace = str(node["namespace"])
    if node["kind"] == "job":
        return name
    if not namespace.startswith("file://"):
        joiner = "" if name.startswith("/") or namespace.endswith("/") else "/"
        return f"{namespace}{joiner}{name}"
    cwd = os.getcwd().rstrip("/") + "/"
    if name.startswith(cwd):
        return name[len(cwd) :]
    if len(name) > _LONG_NAME:
        parts = name.rstrip("/").split("/")
        return "…/" + "/".join(parts[-3:])
    return name


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items()) or "—"
    text = str(value)
    return text if len(text) <= 60 else text[:28] + "…" + text[-28:]


def _code(code: Mapping[str, Any] | None) -> str:
    if not code or not code.get("commit"):
        return ""
    return f"git:{str(code['commit'])[:10]}" + ("+dirty" if code.get("dirty") else "")


def node_label(node: Mapping[str, Any]) -> Text:
    """One line of a lineage tree."""
    kind = str(node["kind"])
    text = Text(f"{ICONS.get(kind, '•')} ")
    if kind == "job":
        text.append(display_name(node), "bold")
        text.append(f" {short(node['version'])}", "dim")
        if node.get("stage"):
            text.append(f" {node['stage']}", "magenta")
        runs = node.get("runs") or {}
        if runs:
            text.append(f" runs ×{runs.get('count', 0)}")  # noqa: RUF001 (a times sign)
            states = [s for s in runs.get("states", []) if s != "COMPLETE"]
            if states:
                text.append(f" ({', '.join(states)})", "yellow")
        if node.get("user") or node.get("host"):
            text.append(f" {node.get('user') or '?'}@{node.get('host') or '?'}", "cyan")
        code = _code(node.get("code"))
        if code:
            text.append(f" {code}", "green")
        if node.get("parameters"):
            params = list(node["parameters"].items())
            shown = ", ".join(f"{k}={_cell(v)}" for k, v in params[:4])
            text.append(f" ({shown}{', …' if len(params) > 4 else ''})", "dim")
        if node.get("reason"):
            text.append(f" “{node['reason']}”", "italic")
        return text
    text.append(kind, "green")
    text.append(f" {display_name(node)}")
    text.append(f" {short(node['version'])}", "dim")
    if node.get("labels"):
        text.append(" " + ",".join(map(str, node["labels"])), "red")
    if node.get("owners"):
        text.append(" " + ",".join(map(str, node["owners"])), "blue")
    if node.get("deployment"):
        deployment = node["deployment"]
        where = "/".join(str(deployment[k]) for k in ("environment", "endpoint") if k in deployment)
        if where:
            text.append(f" → {where}", "cyan")
    if node.get("metrics"):
        text.append(" " + ", ".join(f"{k}={_cell(v)}" for k, v in node["metrics"].items()))
    return text


# --- trace / impact -----------------------------------------------------------------------------


def lineage_tree(graph: Mapping[str, Any], *, upstream: bool) -> None:
    """A trace (``upstream``) or impact answer as a tree hanging from its root."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    children: dict[str, list[str]] = {}
    for edge in graph["edges"]:
        parent, child = (edge["to"], edge["from"]) if upstream else (edge["from"], edge["to"])
        children.setdefault(parent, []).append(child)

    def order(ids: Iterable[str]) -> list[str]:
        known = [i for i in set(ids) if i in nodes]
        return sorted(
            known,
            key=lambda i: (_KIND_ORDER.get(nodes[i]["kind"], 99), display_name(nodes[i]), i),
        )

    root = Tree(node_label(nodes[graph["root"]]))
    shown = {graph["root"]}
    # Depth-first without recursion: a long pipeline is deeper than Python's stack.
    stack = [(root, graph["root"])]
    while stack:
        tree, node_id = stack.pop()
        pending: list[tuple[Tree, str]] = []
        for child in order(children.get(node_id, ())):
            if child in shown:
                seen = nodes[child]
                tree.add(
                    Text(f"↺ {display_name(seen)} {short(seen['version'])} (shown above)", "dim")
                )
                continue
            shown.add(child)
            pending.append((tree.add(node_label(nodes[child])), child))
        stack.extend(reversed(pending))
    console = _stdout()
    console.print(root)
    data = sum(1 for n in graph["nodes"] if n["kind"] != "job")
    executions = len(graph["nodes"]) - data
    summary = (
        f"{'upstream' if upstream else 'downstream'}: {data} data versions, {executions} executions"
    )
    if graph.get("truncated"):
        summary += f"; cut at {len(graph['nodes'])} nodes (raise --limit, or 0 for no cap)"
    console.print(Text(summary, "dim"))


# --- diff ---------------------------------------------------------------------------------------


def diff_table(result: Mapping[str, Any]) -> None:
    """A diff as one table of what changed, aspect by aspect."""
    console = _stdout()
    for name in ("a", "b"):
        side = result[name]
        line = Text(f"{name.upper()} ", "bold")
        line.append(str(side["id"]))
        if side["executions"]:
            line.append("  written by " + ", ".join(short_id(e) for e in side["executions"]), "dim")
        console.print(line)
    if result["identical"]:
        console.print(
            Text("no differences in inputs, parameters, code, upstream sources or metrics", "green")
        )
    else:
        table = Table()
        for column in ("aspect", "key", "A", "B"):
            table.add_column(column)
        for aspect in ("inputs", "parameters", "code", "upstream", "metrics"):
            for change in result[aspect]:
                table.add_row(
                    aspect,
                    Text(str(change["key"])),
                    Text(_cell(change["a"])),
                    Text(_cell(change["b"])),
                )
        console.print(table)
    for note in result.get("notes", []):
        console.print(Text(f"note: {note}", "yellow"))


def short_id(node_id: str) -> str:
    """``job:default/train@ex:0c2e4f…`` → ``default/train@ex:0c2e4f5a6b7c``."""
    base, _, version = node_id.rpartition("@")
    if not base:
        return node_id
    return f"{base.partition(':')[2]}@{short(version)}"


# --- show ---------------------------------------------------------------------------------------


_SHOW_FIELDS: Final = (
    "kind",
    "namespace",
    "name",
    "version",
    "first_seen",
    "stage",
    "owners",
    "labels",
    "metrics",
    "columns",
    "deployment",
    "job",
    "user",
    "host",
    "code",
    "parameters",
    "reason",
)


_VERBATIM: Final = frozenset({"namespace", "name", "version", "job", "first_seen", "reason"})


def show_detail(detail: Mapping[str, Any]) -> None:
    """One version: its fields, its runs, and the node's other versions."""
    node = detail["node"]
    console = _stdout()
    console.print(Text(str(node["id"]), "bold"))
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key in _SHOW_FIELDS:
        if node.get(key) not in (None, [], {}, ""):
            value = node[key]
            table.add_row(key, Text(str(value) if key in _VERBATIM else _cell(value)))
    runs = node.get("runs")
    if runs:
        table.add_row(
            "runs",
            Text(
                f"{runs['count']} ({', '.join(runs['states'])}), "
                f"{runs['first_seen']} … {runs['last_seen']}"
            ),
        )
    table.add_row("upstream", f"{detail['upstream']} direct edge(s)")
    table.add_row("downstream", f"{detail['downstream']} direct edge(s)")
    if detail["facets"]:
        table.add_row("facets", Text(", ".join(sorted(detail["facets"]))))
    console.print(table)
    if detail["runs"]:
        title = "runs" if node["kind"] == "job" else "runs that wrote it"
        console.print(_runs_table(detail["runs"], title=title))
    versions = detail["versions"]
    if versions["count"] > 1:
        recent = Table(title=f"versions ({versions['count']} recorded, newest first)")
        recent.add_column("version")
        recent.add_column("first seen")
        for entry in versions["recent"]:
            style = "bold" if entry["current"] else ""
            recent.add_row(
                Text(short(entry["version"], 24) + (" ◀" if entry["current"] else ""), style),
                entry["first_seen"],
            )
        console.print(recent)


def _runs_table(runs: Iterable[Mapping[str, Any]], *, title: str | None = None) -> Table:
    table = Table(title=title)
    for column in ("time", "job", "state", "run", "execution", "who", "code", "reason"):
        table.add_column(column)
    for run in runs:
        when = run.get("ended") or run.get("started") or run.get("updated") or ""
        who = f"{run['user']}@{run['host']}" if run.get("user") else ""
        code = _code({"commit": run.get("commit"), "dirty": run.get("dirty")})
        state = Text(str(run["state"]), "red" if run["state"] in ("FAIL", "ABORT") else "")
        execution = run.get("execution") or ""
        table.add_row(
            str(when)[:19].replace("T", " "),
            Text(str(run["job"])),
            state,
            str(run["run_id"]),
            short(execution.rpartition("@")[2]) if execution else "",
            Text(who),
            code,
            Text(str(run.get("reason") or run.get("error") or "")),
        )
    return table


# --- log / verify -------------------------------------------------------------------------------


def log_table(log: Mapping[str, Any]) -> None:
    """Recent runs, newest first."""
    console = _stdout()
    if not log["runs"]:
        console.print(Text("no runs recorded", "dim"))
        return
    console.print(_runs_table(log["runs"]))


def verify_report(report: Mapping[str, Any]) -> None:
    """The outcome of ``threadline verify``."""
    console = _stdout()
    if report["ok"]:
        line = Text("✓ verified", "green")
        line.append(f" {report['records']} records; chain head {str(report['head'])[:16]}…")
        if report.get("checkpoints"):
            line.append(f"; {report['checkpoints']} checkpoint(s) match")
        console.print(line)
        return
    line = Text("✗ verification failed", "red")
    line.append(f" at record {report['first_bad']}: {report['reason']}")
    line.append(f" ({report['records']} records before it are intact)", "dim")
    console.print(line)


def migrate_report(report: Mapping[str, Any]) -> None:
    """The outcome of ``threadline migrate`` (``UpgradeReport.to_dict()``)."""
    console = _stdout()
    store, names = str(report["store"]), list(report["migrations"])
    start, end = report["from_revision"], report["to_revision"]
    if not names:
        line = Text("✓ up to date", "green")
        line.append(f" {store} is at schema revision {end}; nothing to migrate")
        console.print(line)
        return
    if report["dry_run"]:
        console.print(
            Text(f"{store}: schema revision {start} → {end}, {len(names)} migration(s) pending")
        )
        for name in names:
            console.print(Text(f"  • {name}"))
        console.print(Text("dry run: nothing applied (run without --dry-run to apply)", "dim"))
        return
    console.print(Text(f"{store}: schema revision {start} → {end}"))
    for name in names:
        line = Text("  ✓ ", "green")
        line.append(f"applied {name}")
        console.print(line)
    console.print(Text(f"✓ migrated to revision {end}", "green"))


__all__ = [
    "ICONS",
    "diff_table",
    "display_name",
    "error",
    "lineage_tree",
    "log_table",
    "migrate_report",
    "node_label",
    "print_json",
    "short",
    "short_id",
    "show_detail",
    "verify_report",
]
