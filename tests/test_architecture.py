"""The package's architecture, checked on its source.

Layers, bottom to top (an *area* is a sub-package of ``threadline``, or a top-level module)::

    cli
    server
    capture, export, alerts    (peers: none imports another)
    query
    store
    integrity
    model, config, settings_files, temp_files, errors, frozen, quick_json, collector,
    fingerprint, rowfiles, spec, _version

A module imports only its own layer and the layers below it; only the bottom layer's areas
import each other, and the pairs in :data:`APART` (the server and capture) never meet although
their layers allow it.  ``threadline/__init__.py`` (the lazy public API) and ``__main__.py``
(the console entry) stand above every layer.  Three more rules keep the layering honest:

* no module imports a private name (``_x``), or anything from a private module, of another
  area, nor reaches one as an attribute of a module it imported: make it public or move it;
* an import inside a function (or a dynamic ``importlib.import_module`` or ``__import__``) of
  a threadline module is allowed only when :data:`LAZY` lists it with its reason (import speed
  on a path that must stay fast, or modules named in data): nothing else may hide a dependency
  from the header;
* no import cycle between modules, counting imports inside functions (``TYPE_CHECKING`` blocks
  aside, as they never run).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "threadline"

LAYERS: list[frozenset[str]] = [
    frozenset(
        {
            "model",
            "config",
            "settings_files",
            "temp_files",
            "errors",
            "frozen",
            "quick_json",
            "collector",
            "fingerprint",
            "rowfiles",
            "spec",
            "_version",
        }
    ),
    frozenset({"integrity"}),
    frozenset({"store"}),
    frozenset({"query"}),
    frozenset({"capture", "export", "alerts", "lifecycle"}),
    frozenset({"server"}),
    frozenset({"cli"}),
]
BOTTOM = LAYERS[0]
#: (importer, imported) areas kept apart although the layers would allow it, with the reason.
APART: dict[tuple[str, str], str] = {
    ("server", "capture"): "the server answers through query; capture is the producer's side",
}
FACADE = frozenset({"__init__", "__main__"})
# Private by its name only: hatch reads the version from this file.
NOT_PRIVATE = frozenset({"_version"})

DYNAMIC = "<dynamic>"

# Reasons shared by several entries of LAZY.
COMMAND = "a command imports what it runs, so `threadline --help` and completion stay fast"
CRYPTO = "cryptography loads only in the commands that sign or check signatures"
CHILD = "the captured child imports this only when the script first records it"
SUPERVISOR = (
    "the supervisor's writer and question threads import what writing and answering need,"
    " after the command has started"
)
NO_AGENT = (
    "the store (SQLAlchemy) loads in a run's supervisor only when no writer agent takes its events"
)
LAUNCHER = "`threadline run` starts the command before it imports what can wait (capture/launch.py)"
SITE = (
    "sitecustomize runs at every interpreter start; it loads capture only in a process that"
    " threadline run captures (not in its workers)"
)
WAKE = (
    "a captured process loads capture only when it first imports a module a hook watches, or "
    "threadline's API (capture/bootstrap.py): most short scripts of a pipeline never do"
)
ORPHAN = (
    "a process that never started capture builds its own run only when its supervisor died "
    "before the process ended"
)
REPORTS = (
    "a script run is built from its process's report (most of capture) only where it is "
    "written: by the writer agent, or a supervisor or journal reader writing without one"
)

PYTEST_PLUGIN = (
    "pytest loads its plugins (pytest11) in every session where threadline is installed: the "
    "store and the checks load only when a test asks for them"
)

#: Imports of threadline modules inside a function, or of a module named at run time, each with
#: its reason: (importing module, module imported) -> why.  An import kept out of the
#: module's header hides a dependency, so the accepted reasons are import speed on a path that
#: must stay fast, and modules named in data (the public API's table, plugin registries).
LAZY: dict[tuple[str, str], str] = {
    ("threadline.query.health.pytest_plugin", "threadline.query.configured"): PYTEST_PLUGIN,
    ("threadline.query.health.pytest_plugin", "threadline.query.health"): PYTEST_PLUGIN,
    ("threadline.query.health.pytest_plugin", "threadline.query.health.invariants"): PYTEST_PLUGIN,
    ("threadline", DYNAMIC): "the public API loads each name's module on first use (PEP 562)",
    ("threadline.__main__", "threadline.capture.launch"): (
        "`python -m threadline run` starts the captured script without importing the CLI"
    ),
    ("threadline.__main__", "threadline.cli"): "every other command loads the CLI (Typer)",
    ("threadline.capture.answers", "threadline.capture.http_sink"): (
        "http.client and ssl load only for a process that sends its events over HTTP"
    ),
    ("threadline.capture.answers", "threadline.store"): (
        "a process launched by threadline run asks its supervisor, never a store of its own"
    ),
    ("threadline.capture.api", "threadline.fingerprint"): CHILD,
    ("threadline.capture.emitter", "threadline.capture.http_sink"): (
        "httpx loads only for a run that sends its events over HTTP"
    ),
    ("threadline.capture.emitter", "threadline.model.events"): (
        "msgspec loads only for a program that emits model.events structs itself"
    ),
    ("threadline.capture.emitter", "threadline.store"): (
        "SQLAlchemy loads only for a run that writes to a local store"
    ),
    ("threadline.capture.estimators", "threadline.fingerprint"): CHILD,
    ("threadline.capture.evaluations", "threadline.fingerprint"): CHILD,
    ("threadline.capture.hooks", DYNAMIC): (
        "built-in hooks are loaded by name, the same way entry points load third-party ones"
    ),
    ("threadline.capture.hooks._site.sitecustomize", "threadline.capture.bootstrap"): SITE,
    ("threadline.capture.bootstrap", "threadline.capture.child"): WAKE,
    ("threadline.capture.bootstrap", "threadline.model.times"): WAKE,
    ("threadline.capture.bootstrap", "threadline.capture.hooks"): WAKE,
    ("threadline.capture.bootstrap", "threadline.collector"): WAKE,
    ("threadline.capture.bootstrap", "threadline.capture.script_run"): ORPHAN,
    ("threadline.capture.bootstrap", "threadline.capture.supervisor_client"): ORPHAN,
    ("threadline.capture.agent_client", "threadline.capture.script_run"): REPORTS,
    ("threadline.capture.journal", "threadline.capture.script_run"): REPORTS,
    ("threadline.capture.supervisor", "threadline.capture.script_run"): REPORTS,
    ("threadline.capture.hooks._site.sitecustomize", "threadline.capture.workers"): SITE,
    ("threadline.capture.hooks.mlflow", "threadline.fingerprint"): CHILD,
    ("threadline.capture.launch", "threadline.capture.http_sink"): LAUNCHER,
    ("threadline.capture.launch", "threadline.capture.supervisor"): LAUNCHER,
    ("threadline.capture.launch", "threadline.config"): LAUNCHER,
    ("threadline.capture.launch", "threadline.errors"): LAUNCHER,
    ("threadline.capture.launch", "threadline.model.stages"): LAUNCHER,
    ("threadline.capture.recorded", "threadline.query.recorded"): (
        "SQLAlchemy loads only once a store in this process is asked, never in a captured"
        " process that asks the supervisor or a server"
    ),
    ("threadline.capture.recorder", "threadline.fingerprint"): CHILD,
    ("threadline.capture.destination", "threadline.capture.http_sink"): (
        "http.client and ssl load only for a run that ships its events to a server"
    ),
    ("threadline.capture.destination", "threadline.capture.emitter"): NO_AGENT,
    ("threadline.capture.destination", "threadline.capture.recorded"): NO_AGENT,
    ("threadline.capture.destination", "threadline.store"): NO_AGENT,
    ("threadline.capture.supervisor", "threadline.capture.destination"): SUPERVISOR,
    ("threadline.capture.supervisor", "threadline.capture.emitter"): SUPERVISOR,
    ("threadline.capture.supervisor", "threadline.capture.recorded"): SUPERVISOR,
    ("threadline.capture.writes", "threadline.fingerprint"): CHILD,
    ("threadline.cli", DYNAMIC): "the command modules are registered from COMMAND_MODULES",
    ("threadline.cli", "threadline.cli.render"): "Rich loads only to print an error",
    ("threadline.cli.capture", "threadline.capture.api"): COMMAND,
    ("threadline.cli.capture", "threadline.capture.emitter"): COMMAND,
    ("threadline.cli.capture", "threadline.capture.http_sink"): COMMAND,
    ("threadline.cli.capture", "threadline.query.resolve"): COMMAND,
    ("threadline.cli.capture", "threadline.store"): COMMAND,
    ("threadline.cli.catalog", "threadline.query.catalog"): COMMAND,
    ("threadline.cli.export", "threadline.export.dot"): COMMAND,
    ("threadline.cli.export", "threadline.export.graph"): COMMAND,
    ("threadline.cli.export", "threadline.export.openlineage"): COMMAND,
    ("threadline.cli.export", "threadline.export.picture"): COMMAND,
    ("threadline.cli.export", "threadline.export.prov"): COMMAND,
    ("threadline.cli.export", "threadline.spec.ingest"): COMMAND,
    ("threadline.cli.keys", "threadline.export.attest"): COMMAND,
    ("threadline.cli.keys", "threadline.integrity.checkpoint"): CRYPTO,
    ("threadline.cli.keys", "threadline.integrity.note"): CRYPTO,
    ("threadline.cli.keys", "threadline.integrity.proofs"): CRYPTO,
    ("threadline.cli.keys", "threadline.integrity.signing"): CRYPTO,
    ("threadline.cli.keys", "threadline.store.admin"): COMMAND,
    ("threadline.cli.query", "threadline.export.dot"): COMMAND,
    ("threadline.cli.query", "threadline.export.picture"): COMMAND,
    ("threadline.cli.render", "threadline.query.result"): COMMAND,
    ("threadline.cli.query", "threadline.query"): COMMAND,
    ("threadline.cli.query", "threadline.query.diff"): COMMAND,
    ("threadline.cli.query", "threadline.query.show"): COMMAND,
    ("threadline.cli.gc", "threadline.lifecycle.apply"): COMMAND,
    # threadline run: SQLAlchemy loads on the supervisor's writer thread, off the command's start.
    ("threadline.capture.supervisor", "threadline.capture.abandoned"): LAUNCHER,
    ("threadline.cli.gc", "threadline.lifecycle.plan"): COMMAND,
    ("threadline.cli.gc", "threadline.lifecycle.rules"): COMMAND,
    ("threadline.cli.health", "threadline.cli.render"): COMMAND,
    ("threadline.cli.health", "threadline.query.health"): COMMAND,
    ("threadline.cli.search", "threadline.cli.render"): COMMAND,
    ("threadline.cli.search", "threadline.query.search"): COMMAND,
    ("threadline.cli.serve", "threadline.capture.http_sink"): COMMAND,
    ("threadline.cli.serve", "threadline.capture.spool"): COMMAND,
    ("threadline.cli.serve", "threadline.query.producers"): COMMAND,
    ("threadline.cli.serve", "threadline.server.app"): COMMAND,
    ("threadline.cli.serve", "threadline.collector"): COMMAND,
    ("threadline.cli.serve", "threadline.server.publish"): COMMAND,
    ("threadline.cli.tokens", "threadline.server.auth.grants"): COMMAND,
    ("threadline.cli.tokens", "threadline.server.auth.tokens"): COMMAND,
    ("threadline.cli.state", "threadline.query.configured"): COMMAND,
    ("threadline.cli.state", "threadline.store"): COMMAND,
    ("threadline.cli.store", "threadline.integrity.checkpoint"): CRYPTO,
    ("threadline.cli.store", "threadline.integrity.signing"): CRYPTO,
    ("threadline.cli.store", "threadline.query.reproject"): COMMAND,
    ("threadline.cli.store", "threadline.store.admin"): COMMAND,
    ("threadline.cli.store", "threadline.store.migrations"): COMMAND,
    ("threadline.fingerprint", "threadline.fingerprint.objects"): (
        "fingerprinting a path never needs the in-memory data modules (PEP 562)"
    ),
    ("threadline.model.ids", "threadline.model.canonical"): (
        "rfc8785 loads only when an execution id is computed"
    ),
    ("threadline.model.stages", "threadline.errors"): LAUNCHER,
    ("threadline.store", "threadline.store.postgres"): (
        "a store loads only its own backend (psycopg only for PostgreSQL)"
    ),
    ("threadline.store", "threadline.store.sqlite"): "a store loads only its own backend",
}


# --- reading the source ---------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    importer: str  # dotted name of the importing module
    target: str  # dotted module name as written (DYNAMIC for a computed importlib target)
    names: tuple[str, ...]  # names taken from it; empty for ``import x``
    line: int
    in_function: bool
    type_checking: bool

    @property
    def where(self) -> str:
        return f"{module_path(self.importer)}:{self.line}"


def module_name(path: Path) -> str:
    parts = ["threadline", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def module_path(name: str) -> str:
    return str(MODULES[name].relative_to(PACKAGE.parent))


def area(module: str) -> str:
    """``capture`` for ``threadline.capture.tracking``, ``config`` for ``threadline.config``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def resolve(importer: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str) -> Iterator[Import]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, (), node.lineno, in_function, type_checking)
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            target = resolve(module, path, node)
            yield Import(module, target, names, node.lineno, in_function, type_checking)
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id == "__import__")
            )
            and node.args
        ):
            argument = node.args[0]
            if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                yield Import(module, DYNAMIC, (), node.lineno, in_function, type_checking)
            elif argument.value.startswith("threadline"):
                yield Import(module, argument.value, (), node.lineno, in_function, type_checking)
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            guarded = type_checking or (
                isinstance(node, ast.If) and is_type_checking(node.test) and child in node.body
            )
            yield from visit(child, inside, guarded)

    for found in visit(tree, False, False):
        if found.target == DYNAMIC or found.target.split(".")[0] == "threadline":
            yield found


IMPORTS: list[Import] = [found for module in MODULES for found in imports_of(module)]


def targets(found: Import) -> list[str]:
    """The modules an import reaches: ``from a import b`` reaches ``a.b`` when that is one."""
    if found.target == DYNAMIC:
        return []
    submodules = [f"{found.target}.{name}" for name in found.names]
    reached = [name for name in submodules if name in MODULES]
    if len(reached) < len(found.names) or not found.names:
        reached.append(found.target)
    return reached


def layer_of(name: str) -> int:
    for index, layer in enumerate(LAYERS):
        if name in layer:
            return index
    raise KeyError(name)


def may_import(importer: str, imported: str) -> bool:
    """Whether area ``importer`` may import area ``imported``."""
    if importer in FACADE or imported == importer:
        return True
    if imported in FACADE or (importer, imported) in APART:
        return False
    try:
        low, high = layer_of(imported), layer_of(importer)
    except KeyError:
        return False  # reported by test_every_area_has_a_layer
    return low < high or low == high == 0


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in NOT_PRIVATE


# --- the checks -----------------------------------------------------------------------------


def test_every_area_has_a_layer() -> None:
    areas = {area(module) for module in MODULES} - FACADE
    placed = set().union(*LAYERS)
    assert areas <= placed, f"give these areas a layer: {sorted(areas - placed)}"
    assert placed <= areas, f"these layers name no area: {sorted(placed - areas)}"


def test_the_layer_rule_reads_as_drawn() -> None:
    assert may_import("query", "store")
    assert not may_import("store", "query")
    assert may_import("fingerprint", "model")
    assert may_import("model", "errors")
    assert not may_import("capture", "export")
    assert not may_import("export", "capture")
    assert may_import("server", "query")
    assert not may_import("server", "capture")
    assert may_import("cli", "server")
    assert not may_import("cli", "__init__")
    assert may_import("__init__", "capture")
    assert not may_import("model", "fingerprint_x")


@pytest.mark.parametrize("module", sorted(MODULES), ids=lambda m: module_path(m))
def test_module_imports_only_its_layer_and_below(module: str) -> None:
    bad = sorted(
        f"{found.where} imports {found.target}"
        for found in IMPORTS
        if found.importer == module
        for target in targets(found)
        if not may_import(area(module), area(target))
    )
    assert not bad, "\n".join(bad)


def test_no_private_name_of_another_area_is_used() -> None:
    bad: list[str] = []
    for found in IMPORTS:
        if found.target == DYNAMIC:
            continue
        own = area(found.importer)
        if area(found.target) == own or own in FACADE:
            continue
        if any(is_private(part) for part in found.target.split(".")):
            bad.append(f"{found.where} imports from the private module {found.target}")
        bad += [
            f"{found.where} imports the private {found.target}.{name}"
            for name in found.names
            if is_private(name)
        ]
    for module, path in MODULES.items():
        bad += private_attributes(module, path)
    assert not bad, "\n".join(sorted(bad))


def private_attributes(module: str, path: Path) -> list[str]:
    """``m._x`` where ``m`` names a module of another area imported here."""
    tree = ast.parse(path.read_text(), str(path))
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("threadline.") and alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, path, node)
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{target}.{alias.name}"
    own = area(module)
    return [
        f"{module_path(module)}:{node.lineno} uses the private {aliases[node.value.id]}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
        and is_private(node.attr)
        and area(aliases[node.value.id]) != own
        and own not in FACADE
    ]


def lazy_imports() -> Iterator[tuple[Import, str]]:
    """Imports inside functions and dynamic ones, each with a module it reaches."""
    for found in IMPORTS:
        if found.target == DYNAMIC:
            yield found, DYNAMIC
        elif found.in_function:
            for target in targets(found):
                yield found, target


def test_imports_inside_functions_are_listed_with_their_reason() -> None:
    unlisted = sorted(
        f"{found.where} imports a module named at run time"
        if target == DYNAMIC
        else f"{found.where} imports {target} inside a function"
        for found, target in lazy_imports()
        if (found.importer, target) not in LAZY
    )
    assert not unlisted, (
        "move these imports to the module header, or list them in LAZY with the reason:\n"
        + "\n".join(unlisted)
    )


def test_every_listed_lazy_import_still_exists() -> None:
    stale = set(LAZY) - {(found.importer, target) for found, target in lazy_imports()}
    assert not stale, f"no longer imported inside a function, remove from LAZY: {sorted(stale)}"


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for found in IMPORTS:
        if not found.type_checking:
            graph[found.importer] |= {t for t in targets(found) if t in MODULES} - {found.importer}
    cycles = [sorted(component) for component in strongly_connected(graph) if len(component) > 1]
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in sorted(cycles))


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative so that deep import chains cannot hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    counter = itertools.count()
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = next(counter)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = next(counter)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components
