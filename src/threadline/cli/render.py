"""All terminal rendering: Rich trees for lineage, tables for the rest, JSON for --json."""

from __future__ import annotations

import sys
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

console = Console(highlight=False, soft_wrap=False)

ICONS = {
    "dataset": "▤",
    "features": "◫",
    "model": "◆",
    "evaluation": "✓",
    "deployment": "⇪",
    "predictions": "◎",
    "job": "⚙",
}


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def short(version: str | None) -> str:
    if not version:
        return ""
    prefix, _, rest = version.partition(":")
    return f"{prefix}:{rest[:12]}"


def label(node: dict[str, Any]) -> str:
    kind = node["kind"]
    icon = ICONS.get(kind, "•")
    if kind == "job":
        runs = node.get("runs", {})
        text = f"{icon} [bold]{node['name']}[/] [dim]{short(node['version'])}[/]"
        if node.get("stage"):
            text += f" [magenta]{node['stage']}[/]"
        if runs:
            text += f" runs x{runs.get('count', 0)}"
        if node.get("user"):
            text += f" [cyan]{node['user']}@{node.get('host', '')}[/]"
        code = node.get("code") or {}
        if code.get("commit"):
            text += f" git:{code['commit'][:10]}{'+dirty' if code.get('dirty') else ''}"
        if node.get("parameters"):
            params = ", ".join(f"{k}={v}" for k, v in list(node["parameters"].items())[:4])
            text += f" [dim]({params})[/]"
        if node.get("reason"):
            text += f" [italic]“{node['reason']}”[/]"
        return text
    text = f"{icon} [green]{kind}[/] {node['name']} [dim]{short(node['version'])}[/]"
    if node.get("labels"):
        text += " [red]" + ",".join(node["labels"]) + "[/]"
    if node.get("owners"):
        text += " [blue]" + ",".join(node["owners"]) + "[/]"
    if node.get("metrics"):
        text += " " + ", ".join(f"{k}={v:.3g}" for k, v in node["metrics"].items())
    return text


def lineage_tree(graph: dict[str, Any]) -> None:
    nodes = {n["id"]: n for n in graph["nodes"]}
    upstream = graph.get("direction") == "upstream"
    children: dict[str, list[str]] = {}
    for edge in graph["edges"]:
        parent, child = (edge["to"], edge["from"]) if upstream else (edge["from"], edge["to"])
        children.setdefault(parent, []).append(child)
    root = Tree(label(nodes[graph["root"]]))
    shown: set[str] = {graph["root"]}

    def grow(tree: Tree, node_id: str) -> None:
        for child in sorted(set(children.get(node_id, []))):
            if child not in nodes:
                continue
            if child in shown:
                tree.add(
                    f"[dim]↺ {nodes[child]['name']} {short(nodes[child]['version'])} (shown above)[/]"
                )
                continue
            shown.add(child)
            grow(tree.add(label(nodes[child])), child)

    grow(root, graph["root"])
    console.print(root)
    title = "upstream" if upstream else "downstream"
    data = sum(1 for n in graph["nodes"] if n["kind"] != "job")
    runs = len(graph["nodes"]) - data
    note = " (truncated: raise --limit)" if graph.get("truncated") else ""
    console.print(f"[dim]{title}: {data} data versions, {runs} executions{note}[/]")


def diff_table(result: dict[str, Any]) -> None:
    console.print(f"[bold]A[/] {result['a']}\n[bold]B[/] {result['b']}")
    if result["identical"]:
        console.print("[green]no differences in inputs, parameters, code, upstream or metrics[/]")
        return
    table = Table(show_lines=False)
    table.add_column("aspect")
    table.add_column("key")
    table.add_column("A")
    table.add_column("B")
    for aspect in ("parameters", "inputs", "code", "upstream", "metrics"):
        for key, change in result[aspect].items():
            table.add_row(aspect, key, _cell(change["a"]), _cell(change["b"]))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text if len(text) < 48 else text[:22] + "…" + text[-20:]


def show_table(entry: dict[str, Any]) -> None:
    table = Table(show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key in (
        "id",
        "kind",
        "namespace",
        "name",
        "version",
        "first_seen",
        "last_seen",
        "stage",
        "owners",
        "labels",
        "metrics",
        "columns",
        "runs",
        "user",
        "host",
        "code",
        "parameters",
        "reason",
        "upstream",
        "downstream",
    ):
        if entry.get(key) not in (None, [], {}):
            table.add_row(key, _cell(entry[key]) if key != "id" else entry[key])
    console.print(table)
    if entry.get("versions"):
        console.print(
            f"[dim]{len(entry['versions'])} version(s); newest {entry['versions'][0]['version']}[/]"
        )


def log_table(rows: list[dict[str, Any]]) -> None:
    table = Table()
    for column in ("ended", "job", "state", "execution", "user", "commit", "reason"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            (row["ended"] or row["started"] or "")[:19],
            row["job"],
            row["state"],
            short(row["execution"]),
            row["user"] or "",
            (row["commit"] or "")[:10],
            row["reason"] or "",
        )
    console.print(table)


def verify_report(report: dict[str, Any]) -> None:
    if report["ok"]:
        console.print(
            f"[green]✓ verified[/] {report['records']} records; chain head {report['head'][:16]}…"
            + (
                f"; {report['checkpoints']} checkpoint(s) match"
                if report.get("checkpoints")
                else ""
            )
        )
    else:
        console.print(
            f"[red]✗ verification failed[/] at record {report['first_bad']}: {report['reason']}"
        )
