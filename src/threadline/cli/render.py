"""All terminal output of the CLI: Rich trees for lineage, tables for the rest, JSON for --json.

Every function takes the ``to_dict()`` form of a query result, so what a terminal shows and what
``--json`` prints come from the same data.  Recorded text (names, reasons, labels) is wrapped
in :class:`rich.text.Text`, never parsed as markup, so a file called ``[red]x.csv`` prints as
itself.

It is longer than our ~500-line guide on purpose: it is one concept (how each answer looks in a
terminal), and keeping every renderer beside the shared helpers keeps the output consistent.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
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
#: Width of a table when output goes to a pipe or a file and ``COLUMNS`` is not set.
_PIPED_TABLE_WIDTH: Final = 80


def _stdout() -> Console:
    # Built per call: Rich then writes to whatever sys.stdout is now (CliRunner swaps it).
    # Piped output is not wrapped, so each tree line stays one line for grep and friends.
    console = Console(highlight=False)
    if not console.is_terminal:
        console.soft_wrap = True
        if "COLUMNS" not in os.environ:
            console.width = _PIPED_WIDTH
    return console


def table_width(console: Console) -> int | None:
    """The width a table is laid out in: the terminal's, or when piped ``COLUMNS`` (else 80),
    so that a table read later in a terminal or a pager fits it.  (Trees are not laid out:
    each of their lines stays one line, cut by the viewer, never wrapped into the next.)"""
    if console.is_terminal:
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else _PIPED_TABLE_WIDTH


def print_table(console: Console, table: Table) -> None:
    """Print ``table`` at :func:`table_width`."""
    console.print(table, width=table_width(console))


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
        return number(value)
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items()) or "—"
    text = str(value)
    return text if len(text) <= 60 else text[:28] + "…" + text[-28:]


def number(value: float) -> str:
    """A float as its user wrote it (``64850.0``, ``0.5``, ``1e-05``: Python's shortest form),
    with long fractions cut to 4 significant digits (a metric's ``0.9649``), and never
    switched to exponent notation by that cut (``6.485e+04`` reads like another number)."""
    if not math.isfinite(value) or value == 0 or value.is_integer() or abs(value) < 1e-4:
        return repr(value)
    shortened = f"{value:.4g}"
    if "e" not in shortened:
        return shortened
    # Four significant digits would need an exponent: keep the integer part, 4 decimals.
    return repr(round(value, 4))


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
    console = _stdout()
    console.print(_tree(graph, upstream=upstream))
    console.print(_summary(graph, upstream=upstream))


def _tree(
    graph: Mapping[str, Any],
    *,
    upstream: bool,
    suffix: Mapping[str, Text] | None = None,
    notes: Mapping[str, Sequence[Text]] | None = None,
) -> Tree:
    """The tree of an answer; ``suffix`` is appended to a node's line and ``notes`` hang
    under it, both keyed by node id."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    children: dict[str, list[str]] = {}
    for edge in graph["edges"]:
        parent, child = (edge["to"], edge["from"]) if upstream else (edge["from"], edge["to"])
        children.setdefault(parent, []).append(child)
    suffix = suffix or {}
    notes = notes or {}

    def label(node_id: str) -> Text:
        text = node_label(nodes[node_id])
        if node_id in suffix:
            text.append_text(suffix[node_id])
        return text

    def order(ids: Iterable[str]) -> list[str]:
        known = [i for i in set(ids) if i in nodes]
        return sorted(
            known,
            key=lambda i: (_KIND_ORDER.get(nodes[i]["kind"], 99), display_name(nodes[i]), i),
        )

    root = Tree(label(graph["root"]))
    for note in notes.get(graph["root"], ()):
        root.add(note)
    shown = {graph["root"]}
    # Pre-order, depth-first, without recursion (a long pipeline is deeper than Python's
    # stack): nodes are placed in the order they print, so a node met again is always one
    # printed above it, never a later sibling still to come.
    stack = [(root, child) for child in reversed(order(children.get(graph["root"], ())))]
    while stack:
        parent, node_id = stack.pop()
        if node_id in shown:
            seen = nodes[node_id]
            parent.add(
                Text(f"↺ {display_name(seen)} {short(seen['version'])} (shown above)", "dim")
            )
            continue
        shown.add(node_id)
        tree = parent.add(label(node_id))
        for note in notes.get(node_id, ()):
            tree.add(note)
        stack.extend((tree, child) for child in reversed(order(children.get(node_id, ()))))
    return root


def _summary(graph: Mapping[str, Any], *, upstream: bool) -> Text:
    data = sum(1 for n in graph["nodes"] if n["kind"] != "job")
    executions = len(graph["nodes"]) - data
    summary = (
        f"{'upstream' if upstream else 'downstream'}: {data} data versions, {executions} executions"
    )
    if graph.get("truncated"):
        # The pictures say it in the same words; query pulls in SQLAlchemy, so not at the top.
        from threadline.query.result import cut_note

        summary += "; " + cut_note(len(graph["nodes"]))
    return Text(summary, "dim")


# --- one row ------------------------------------------------------------------------------------

#: Values shown on one line of a row tree; ``--json`` has them all.
_ROW_VALUES_SHOWN: Final = 12


def row_tree(answer: Mapping[str, Any]) -> None:
    """A row trace: the row and its values, the rows it maps to, the input row's values, the
    model with its deployment, then the rest of the upstream tree, with who ran each step."""
    row = answer["row"]
    nodes = {n["id"]: n for n in answer["nodes"]}
    suffix: dict[str, Text] = {}
    notes: dict[str, list[Text]] = {}
    total = f" of {row['rows']}" if row.get("rows") is not None else ""
    for index, ref in enumerate(row["chain"]):
        mark = Text(f" row {ref['row']}{total if index == 0 else ''}", "bold yellow")
        if index == len(row["chain"]) - 1 and index > 0:
            mark = Text(f" ◀ input row {ref['row']}", "bold yellow")
        suffix[ref["dataset"]] = mark
        if index in (0, len(row["chain"]) - 1):
            notes.setdefault(ref["dataset"], []).append(_row_values(ref))
    for node in answer["nodes"]:
        if node["kind"] == "job":
            extra = _environment_of(node)
            if extra:
                suffix[node["id"]] = Text(f" {extra}", "dim")
    deployment = row.get("deployment")
    if row.get("model") and deployment and deployment.get("link") == "model":
        where = "/".join(str(deployment[k]) for k in ("environment", "endpoint") if k in deployment)
        served = Text(f" ⇪ serves {where}", "cyan")
        served.append(f" ({short(deployment['id'].rpartition('@')[2])})", "dim")
        suffix[row["model"]] = served
    console = _stdout()
    console.print(_tree(answer, upstream=True, suffix=suffix, notes=notes))
    console.print(_row_summary(row, nodes))
    console.print(_summary(answer, upstream=True))


def _row_values(ref: Mapping[str, Any]) -> Text:
    values = ref.get("values")
    if values is None:
        return Text(f"values unavailable: {ref.get('values_unavailable') or 'not read'}", "dim")
    items = list(values.items())
    text = Text("= ", "yellow")
    text.append(", ".join(f"{k}={_cell(v)}" for k, v in items[:_ROW_VALUES_SHOWN]))
    if len(items) > _ROW_VALUES_SHOWN:
        text.append(f", … ({len(items) - _ROW_VALUES_SHOWN} more)", "dim")
    return text


def _environment_of(node: Mapping[str, Any]) -> str:
    parts = []
    script = (node.get("code") or {}).get("script")
    if script:
        parts.append(f"script:{short(script, 8)}")
    if node.get("python"):
        parts.append(f"py{node['python']}")
    return " ".join(parts)


def _row_summary(row: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> Text:
    def name(node_id: str) -> str:
        node = nodes.get(node_id)
        if node is None:
            return short_id(node_id)
        return f"{display_name(node)} {short(node['version'])}"

    line = Text(f"row {row['row']} of {name(row['dataset'])}", "bold")
    line.append(f" ← row {row['input']['row']} of {name(row['input']['dataset'])}")
    if row.get("model"):
        line.append(f"\nmodel: {name(row['model'])}")
    deployment = row.get("deployment")
    if deployment:
        where = "/".join(str(deployment[k]) for k in ("environment", "endpoint") if k in deployment)
        how = (
            "read by the scoring run"
            if deployment.get("link") == "read"
            else "serving this model when the rows were written"
        )
        line.append(f"\ndeployment: {where} ({how})")
    if row.get("features"):
        line.append("\nfeatures: " + ", ".join(name(f) for f in row["features"]))
    if row.get("training_data"):
        line.append("\ntraining data: " + ", ".join(name(f) for f in row["training_data"]))
    if row.get("raw_files"):
        line.append("\nraw files: " + ", ".join(name(f) for f in row["raw_files"]))
    groups: dict[str, list[str]] = {}
    for node in nodes.values():
        if node["kind"] == "job" and (node.get("packages") or node.get("python")):
            packages = ", ".join(
                f"{k} {v}" for k, v in sorted((node.get("packages") or {}).items())
            )
            key = f"python {node.get('python') or '?'}" + (f"; {packages}" if packages else "")
            groups.setdefault(key, []).append(str(node["name"]))
    for key, jobs in groups.items():
        who = "all executions" if len(groups) == 1 else ", ".join(sorted(jobs))
        line.append(f"\nenvironment ({who}): {key}", "dim")
    return line


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
        print_table(console, table)
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
    print_table(console, table)
    if detail["runs"]:
        title = "runs" if node["kind"] == "job" else "runs that wrote it"
        print_table(console, _runs_table(detail["runs"], title=title))
    if detail.get("threadline_validation"):
        print_table(console, _validation_table(detail["threadline_validation"]))
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
        print_table(console, recent)


def _validation_table(events: Iterable[Mapping[str, Any]]) -> Table:
    """Schema deviations the server accepted on the events of the runs shown."""
    table = Table(title="accepted with schema deviations (threadline_validation)")
    for column in ("run", "event", "path", "note"):
        table.add_column(column, overflow="fold")
    for event in events:
        for note in event["notes"]:
            table.add_row(
                str(event["run_id"]),
                str(event.get("event_type") or ""),
                Text(str(note["path"])),
                Text(str(note["message"])),
            )
    return table


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
    print_table(console, _runs_table(log["runs"]))


def verify_report(report: Mapping[str, Any]) -> None:
    """The outcome of ``threadline verify``."""
    console = _stdout()
    if report["ok"]:
        line = Text("✓ verified", "green")
        line.append(f" {report['records']} records; chain head {str(report['head'])[:16]}…")
        if report.get("checkpoints"):
            line.append(f"; {report['checkpoints']} checkpoint(s) match")
        if report.get("erased"):
            line.append(
                f"; {report['erased']} of them erased or archived by lifecycle rules (checked "
                "against the events that did it)"
            )
        console.print(line)
        for change in report.get("lifecycle", []):
            done = "erased" if change["action"] == "erase" else "archived"
            where = f" into {change['file']}" if change.get("file") else ""
            console.print(
                Text(
                    f"  record {change['seq']}: {change['records']} records "
                    f"({change['first_record']}..{change['last_record']}) {done}{where} at "
                    f"{change['at']} by {change['user']}@{change['host']} under rule "
                    f"{change['rule']!r}: {change['reason']}",
                    "dim",
                )
            )
        return
    line = Text("✗ verification failed", "red")
    line.append(f" at record {report['first_bad']}: {report['reason']}")
    line.append(f" ({report['records']} records before it are intact)", "dim")
    console.print(line)


def import_report(counts: Mapping[str, Any], *, source: str, seconds: float) -> None:
    """The outcome of ``threadline import``, in one line."""
    read, appended = int(counts["read"]), int(counts["appended"])
    already = int(counts.get("duplicates", read - appended))
    where = "standard input" if source == "-" else source
    line = Text("✓ imported", "green")
    line.append(f" {read:,} event{'s' if read != 1 else ''} from {where} in {seconds:.1f} s: ")
    if read and not appended:
        line.append("nothing new, every one was already stored")
    else:
        line.append(f"{appended:,} new, {already:,} already stored")
    _stdout().print(line)


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


def signed_checkpoint_report(check: Mapping[str, Any]) -> None:
    """The line ``threadline verify --checkpoint`` adds: does the log hold what it vouched for."""
    where = f"signed checkpoint of {check['origin']} at size {check['tree_size']}"
    if check["ok"]:
        line = Text("✓ matches", "green")
        line.append(f" the {where}")
    else:
        line = Text("✗ does not match", "red")
        line.append(f" the {where}: {check['reason']}")
    _stdout().print(line)


def deep_report(deep: Mapping[str, Any]) -> None:
    """The lines ``threadline verify --deep`` adds: each graph row that differs from a
    re-projection of the log, and each recorded file whose bytes changed."""
    console = _stdout()
    if deep["ok"]:
        line = Text("✓ graph matches", "green")
        line.append(f" a re-projection of the log ({deep['summary']})")
        console.print(line)
        return
    console.print(Text("✗ ", "red").append(str(deep["summary"])))
    for item in [*deep["differences"], *deep["changed_files"]]:
        console.print(Text(f"  {item['message']}"))
    for problem in deep.get("archive_problems", []):
        console.print(Text(f"  {problem}"))


def outcome_line(ok: bool, message: str) -> None:
    """One ✓ or ✗ line: the outcome of a check that has nothing more to show."""
    _stdout().print(Text("✓ " if ok else "✗ ", "green" if ok else "red").append(message))


def keygen_report(report: Mapping[str, Any]) -> None:
    """The outcome of ``threadline keygen``."""
    console = _stdout()
    line = Text("✓ wrote signing key ", "green")
    line.append(str(report["signing_key"]))
    line.append(" (private, mode 0600)", "dim")
    console.print(line)
    console.print(Text(f"  public key {report['public_key']}"))


def checkpoint_report(report: Mapping[str, Any]) -> None:
    """The outcome of ``threadline checkpoint``: the signed note itself, unless it went to a
    file."""
    if report["out"] is None:
        sys.stdout.write(str(report["note"]))
        return
    line = Text("✓ signed checkpoint", "green")
    line.append(
        f" of {report['tree_size']} records of {report['origin']} "
        f"(key ID {report['key_id']}) written to {report['out']}"
    )
    _stdout().print(line)


__all__ = [
    "ICONS",
    "checkpoint_report",
    "deep_report",
    "diff_table",
    "display_name",
    "error",
    "keygen_report",
    "lineage_tree",
    "log_table",
    "migrate_report",
    "node_label",
    "outcome_line",
    "print_json",
    "row_tree",
    "short",
    "short_id",
    "show_detail",
    "signed_checkpoint_report",
    "verify_report",
]
