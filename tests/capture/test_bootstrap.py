"""A captured process starts capture only when it needs it, and its run is the same either way.

A process of ``threadline run`` reports its start and end to the supervisor and starts capture
at the first import of a module a hook watches (or of threadline's API); one that never does
has its script run built from its report (``threadline.capture.script_run``).  These tests run
the same scripts both ways (``THREADLINE_CAPTURE_EAGER`` starts capture at every process's
start, as before) and compare the events, and follow the ends a report can have.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.support.runner import Project as Folder

from threadline.capture import bootstrap, hooks
from threadline.capture.supervisor import kept_environment, plain

#: What differs between two runs of one script whichever way it was captured.
_PER_RUN = ("pid", "processStart")


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    root = tmp_path / "proj"
    root.mkdir()
    return Folder(root=root.resolve(), db=tmp_path / "lineage.db")


def events(folder: Folder, job: str) -> list[dict[str, Any]]:
    """The events of ``job``'s runs in log order (read once the store caught up)."""
    folder.graph()  # waits for the writer agent
    with contextlib.closing(sqlite3.connect(folder.db)) as conn:
        rows = conn.execute(
            "SELECT body FROM tl_events WHERE job_name = ? ORDER BY seq", (job,)
        ).fetchall()
    return [orjson.loads(body) for (body,) in rows]


def comparable(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` without what two runs of one script never share."""
    event = orjson.loads(orjson.dumps(event))
    event.pop("eventTime")
    event["run"].pop("runId")
    facets = event["run"].get("facets", {})
    for name in _PER_RUN:
        facets.get("threadline_context", {}).pop(name, None)
    if "errorMessage" in facets:
        facets["errorMessage"].pop("stackTrace", None)
    return event


def both_ways(folder: Folder, script: str, *args: str, check: bool = True) -> tuple[Any, Any]:
    """The events of ``script`` run lazily, then eagerly (two runs, one store)."""
    folder.python(script, *args, check=check)
    lazy = events(folder, script)
    folder.python(script, *args, check=check, THREADLINE_CAPTURE_EAGER="1")
    eager = events(folder, script)[len(lazy) :]
    return lazy, eager


def test_a_process_that_imports_nothing_watched_is_recorded_as_capture_would(
    folder: Folder,
) -> None:
    folder.write("plain.py", "import json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    lazy, eager = both_ways(folder, "plain.py", "1.0", "--flag")
    assert [e["eventType"] for e in lazy] == ["START", "COMPLETE"]
    assert [e["eventType"] for e in eager] == ["START", "COMPLETE"]
    # The same events, execution id included.
    assert comparable(lazy[1]) == comparable(eager[1])
    assert comparable(lazy[0]) == comparable(eager[0])
    script = lazy[0]["run"]["facets"]["threadline_context"]["script"]
    assert script["path"] == str(folder.root / "plain.py")
    parameters = lazy[1]["run"]["facets"]["threadline_parameters"]["parameters"]
    assert parameters == {"argv": ["1.0", "--flag"]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("import sys\nsys.exit(3)\n", "SystemExit: exit status 3"),
        ("raise ValueError('bad input')\n", "ValueError: bad input"),
    ],
)
def test_a_failing_process_fails_its_run_either_way(
    folder: Folder, body: str, message: str
) -> None:
    folder.write("fails.py", body)
    lazy, eager = both_ways(folder, "fails.py", check=False)
    assert [e["eventType"] for e in lazy] == ["START", "FAIL"]
    assert lazy[1]["run"]["facets"]["errorMessage"]["message"] == message
    assert comparable(lazy[1]) == comparable(eager[1])
    stack = lazy[1]["run"]["facets"]["errorMessage"]["stackTrace"]
    # An uncaught exception's trace runs through the script; sys.exit's is its status alone.
    assert ("fails.py" in stack) is message.startswith("ValueError")


def test_a_process_that_dies_before_its_end_is_ended_by_the_command(folder: Folder) -> None:
    # dies.py is the environment's first captured process (each test has a cache folder of
    # its own): capture starts at once, and its start reaches the supervisor before the
    # process's first line; quits.py, the second, starts capture only on a watched import.
    folder.write("dies.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    folder.write("quits.py", "import os\nos._exit(0)\n")
    folder.python("dies.py", check=False)
    folder.python("quits.py")
    died, quit_ = events(folder, "dies.py"), events(folder, "quits.py")
    assert [e["eventType"] for e in died] == ["START", "FAIL"]
    assert died[1]["run"]["facets"]["threadline_termination"]["signal"] == "SIGKILL"
    assert [e["eventType"] for e in quit_] == ["START", "ABORT"]
    assert folder.graph().run("dies.py").state == "FAIL"


def test_a_process_killed_right_after_capture_started_lazily_still_has_its_run(
    folder: Folder,
) -> None:
    # The environment's second captured process starts capture at its first watched import;
    # capture builds the run's START on a thread, so the process is killed before it leaves:
    # the word that capture took over must not have dropped the process's report.
    folder.write("warm.py", "pass\n")
    folder.write(
        "killed.py",
        "import os, signal\nimport pickle  # watched\nos.kill(os.getpid(), signal.SIGKILL)\n",
    )
    folder.python("warm.py")
    folder.python("killed.py", check=False)
    killed = events(folder, "killed.py")
    assert [e["eventType"] for e in killed] == ["START", "FAIL"]
    assert killed[1]["run"]["facets"]["threadline_termination"]["signal"] == "SIGKILL"
    assert folder.graph().run("killed.py").state == "FAIL"


def test_capture_starts_at_the_first_watched_import_and_keeps_the_reported_run(
    folder: Folder,
) -> None:
    folder.write(
        "late.py",
        """
        import time
        first_line = time.time()
        time.sleep(0.2)
        import pickle  # watched: capture starts here
        with open("model.pkl", "wb") as handle:
            pickle.dump({"weights": [1, 2, 3]}, handle)
        print(first_line)
        """,
    )
    done = folder.python("late.py")
    first_line = float(done.stdout.split()[-1])
    graph = folder.graph()
    runs = [r for r in graph.runs if graph.nodes[r.job_node_id].name == "late.py"]
    assert len(runs) == 1, "the report was dropped once capture took the run over"
    run = runs[0]
    assert run.state == "COMPLETE"
    # The run started when the process did, not when capture started.
    assert run.started_us / 1e6 < first_line
    # The pickle hook, installed when capture started, recorded the write.
    assert ("job:late.py/write:model.pkl", "output", "dataset:model.pkl") in graph.triples()
    facet = orjson.loads(run.facets)["threadline_capture"]
    assert any(hook.startswith("pickle") for hook in facet["hooks"])


def test_threadline_api_starts_capture(folder: Folder) -> None:
    folder.write(
        "api.py",
        """
        import threadline
        with threadline.run("inner"):
            pass
        """,
    )
    folder.python("api.py")
    graph = folder.graph()
    inner = graph.run("inner")
    script = graph.run("api.py")
    assert orjson.loads(inner.facets)["parent"]["run"]["runId"] == script.run_id


def test_every_python_process_of_the_command_has_its_run(folder: Folder) -> None:
    folder.write(
        "outer.py",
        """
        import subprocess, sys
        subprocess.run([sys.executable, "inner.py"], check=True)
        subprocess.run([sys.executable, "-c", "import pickle"], check=True)
        """,
    )
    folder.write("inner.py", "print('inner')\n")
    folder.python("outer.py")
    names = {n.name for n in folder.graph().nodes.values() if n.kind == "job"}
    assert {"outer.py", "inner.py", "python"} <= names
    assert all(r.state == "COMPLETE" for r in folder.graph().runs)


def test_a_process_outliving_its_supervisor_writes_its_own_run(folder: Folder) -> None:
    folder.write(
        "orphan.py",
        """
        import os, signal, time
        os.kill(os.getppid(), signal.SIGKILL)  # the supervisor
        time.sleep(0.3)
        """,
    )
    folder.python("orphan.py", check=False)
    run = folder.graph().run("orphan.py")
    assert run.state == "COMPLETE"


def test_the_report_of_a_process_that_died_with_its_supervisor_is_written_by_the_next(
    folder: Folder,
) -> None:
    folder.write(
        "both.py",
        """
        import os, signal, time
        time.sleep(0.5)  # the supervisor journals the report of the start meanwhile
        os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    folder.write("next.py", "print('next')\n")
    folder.python("both.py", check=False)
    folder.python("next.py")
    graph = folder.graph()
    # Started (from the dead supervisor's journal), then ended as abandoned: its process died.
    assert graph.run("both.py").state == "ABORT"
    assert graph.run("next.py").state == "COMPLETE"


def test_a_report_is_reduced_to_what_its_run_needs() -> None:
    environ = {
        "THREADLINE_IDENTITY_ENV": "SEED",
        "SEED": "7",
        "AWS_SECRET_ACCESS_KEY": "hunter2",
        "PATH": "/usr/bin",
    }
    assert kept_environment(environ, "/") == {"THREADLINE_IDENTITY_ENV": "SEED", "SEED": "7"}
    assert kept_environment("not a mapping", "/") == {}
    # Bytes of a command line that are not UTF-8 arrive as lone surrogates.
    assert plain({"argv": ["caf\udce9", 1, None, (2.5, True)]}) == {
        "argv": ["caf\\udce9", 1, None, [2.5, True]]
    }
    with pytest.raises(TypeError):
        plain({"code": compile("1", "x", "eval")})


def test_the_watched_modules_are_remembered_under_the_import_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    entry = tmp_path / "site"
    entry.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(entry)])
    stamp = bootstrap.import_path_stamp()
    assert bootstrap._watched(stamp) is None
    bootstrap.remember_watched(stamp)
    watched = bootstrap._watched(stamp)
    assert watched is not None
    assert {"pandas", "sklearn", "pickle", "numpy"} <= watched
    # The hooks' catalog with them: a process that starts capture late reads it there.
    remembered = bootstrap._remembered(stamp)
    assert remembered is not None
    assert remembered[1] == [[e.name, e.reference, list(e.targets)] for e in hooks.catalog()]
    # A package installed on the path since: the stamp changes, nothing is trusted.
    (entry / "newlib.dist-info").mkdir()
    os.utime(entry, ns=(1, 1))
    assert bootstrap.import_path_stamp() != stamp
    assert bootstrap._watched(bootstrap.import_path_stamp()) is None


def test_capture_started_late_loads_the_standard_library_not_the_scripts_namesakes(
    folder: Folder,
) -> None:
    # By the first watched import the script's folder is first on the import path: capture's
    # own imports (dataclasses imports copy) must not pick up a script's module named copy.py.
    (folder.root / "jobs").mkdir()
    folder.write("jobs/copy.py", "raise RuntimeError('the standard library was shadowed')\n")
    folder.write("jobs/uses_pickle.py", "import pickle\npickle.dumps([1])\n")
    done = folder.python("jobs/uses_pickle.py")
    assert "shadowed" not in done.stderr
    assert folder.graph().run("jobs/uses_pickle.py").state == "COMPLETE"


def test_in_strict_mode_a_reported_run_is_written_before_the_command_returns(
    folder: Folder,
) -> None:
    folder.write("quick.py", "print('done')\n")
    folder.python("quick.py", THREADLINE_STRICT="1")
    # Read the file as it is (open_store would first wait for the writer agent).
    with contextlib.closing(sqlite3.connect(folder.db)) as conn:
        kinds = [
            kind
            for (kind,) in conn.execute(
                "SELECT event_type FROM tl_events WHERE job_name = 'quick.py' ORDER BY seq"
            )
        ]
    assert kinds == ["START", "COMPLETE"]


ADAPTER = """
from threadline.capture.hooks import HookSpec

def _install(capture, patcher, module):
    module.PATCHED = True
    return True

hook = HookSpec(name="acme", targets={"acme_lib.io": _install})
"""


def test_a_third_party_hooks_library_starts_capture_and_a_new_one_is_seen_at_once(
    folder: Folder, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    (site / "acme_lib").mkdir(parents=True)
    (site / "acme_lib" / "__init__.py").write_text("")
    (site / "acme_lib" / "io.py").write_text("PATCHED = False\n")
    (site / "acme_threadline.py").write_text(ADAPTER)
    info = site / "acme_hook-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme_hook\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[threadline.hooks]\nacme = acme_threadline:hook\n")
    env = {
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": os.pathsep.join([str(site), *sys.path]),
        # Bytecode written, as on a machine that never disabled it: the adapter's first import
        # makes site/__pycache__, which changes the path entry's time after the first process
        # started (what it remembers must hold for the processes after it).
        "PYTHONDONTWRITEBYTECODE": "",
    }
    folder.write(
        "probe.py",
        """
        import sys
        started_at_start = "threadline.capture.session" in sys.modules
        if sys.argv[1:] == ["use"]:
            import acme_lib.io
            print("patched:", acme_lib.io.PATCHED)
        print("capture loaded:", "threadline.capture.session" in sys.modules)
        print("capture at start:", started_at_start)
        """,
    )
    first = folder.python("probe.py", "use", **env).stdout  # remembers what hooks watch
    idle = folder.python("probe.py", **env).stdout
    used = folder.python("probe.py", "use", **env).stdout
    assert "patched: True" in first
    assert "capture loaded: False" in idle
    assert "capture at start: False" in used
    assert "patched: True" in used
    # A package installed since (its metadata is new on the path): not trusted, capture starts
    # at once, and what the hooks watch is remembered anew.
    (site / "other-1.0.dist-info").mkdir()
    os.utime(site, ns=(1, 1))
    assert "capture at start: True" in folder.python("probe.py", **env).stdout
    assert "capture at start: False" in folder.python("probe.py", **env).stdout
    runs = {r.state for r in folder.graph().runs}
    assert runs == {"COMPLETE"}


def test_capture_that_cannot_start_never_fails_the_import_that_started_it(
    folder: Folder,
) -> None:
    folder.write("imports.py", "import pickle\nprint(pickle.dumps(1) is not None)\n")
    # A setting the process refuses once capture starts (the supervisor refuses it too).
    done = folder.python("imports.py", THREADLINE_QUEUE_SIZE="-1")
    assert done.stdout.strip() == "True"
    assert "automatic capture is off" in done.stderr


@pytest.mark.parametrize("imports", ["", "import pickle\n"], ids=["reported", "captured"])
def test_python_m_names_its_run_by_the_module(folder: Folder, imports: str) -> None:
    (folder.root / "jobs").mkdir()
    folder.write("jobs/__init__.py", "")
    folder.write("jobs/nightly.py", imports + "print('ran')\n")
    folder.run(sys.executable, "-m", "jobs.nightly")
    assert folder.graph().run("jobs.nightly").state == "COMPLETE"


@pytest.mark.parametrize("imports", ["", "import pickle\n"], ids=["reported", "captured"])
def test_a_script_that_changes_folder_first_keeps_its_job_and_project(
    folder: Folder, imports: str
) -> None:
    # Capture starts at the first watched import: the run is still named from the folder the
    # process started in (os.chdir to the script's folder is a common first line).
    (folder.root / "jobs").mkdir()
    (folder.root / "elsewhere").mkdir()
    folder.write("jobs/moves.py", "import os\nos.chdir('elsewhere')\n" + imports)
    folder.write("stays.py", "print('here')\n")
    folder.python("jobs/moves.py")
    folder.python("stays.py")
    graph = folder.graph()
    moved, stayed = graph.run("jobs/moves.py"), graph.run("stays.py")
    assert moved.state == "COMPLETE"
    namespaces = {graph.nodes[r.job_node_id].namespace for r in (moved, stayed)}
    assert len(namespaces) == 1


def test_flush_waits_for_the_script_runs_start_built_on_its_thread(tmp_path: Path) -> None:
    # In a repository the START asks git (tens of ms, on a thread): a flush right after the
    # session starts must still find it written.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    db = tmp_path / "lineage.db"
    (tmp_path / "early.py").write_text(
        "import sqlite3, sys, threadline\n"
        "threadline.autocapture()\n"
        "threadline.flush()\n"
        f"rows = sqlite3.connect({str(db)!r}).execute(\n"
        "    \"SELECT event_type FROM tl_events WHERE job_name = 'early.py'\").fetchall()\n"
        "print(rows)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    env["THREADLINE_STORE"] = str(db)
    env["THREADLINE_AGENT_IDLE_SECONDS"] = "0"
    done = subprocess.run(
        [sys.executable, "early.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('START',)]"


def test_a_remembered_file_without_the_catalog_is_written_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an earlier version remembered (the watched modules alone) is not trusted."""
    import marshal

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    stamp = bootstrap.import_path_stamp()
    path = bootstrap._watched_file()
    assert path is not None
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as handle:
        marshal.dump({"stamp": stamp, "modules": ["pandas"]}, handle)
    assert bootstrap._watched(stamp) is None
    for broken in ([["pandas", "ref"]], [["pandas", "ref", "pandas"]], [[1, "ref", []]]):
        with open(path, "wb") as handle:
            marshal.dump({"stamp": stamp, "modules": ["pandas"], "catalog": broken}, handle)
        assert bootstrap._remembered(stamp) is None
    bootstrap.remember_watched(stamp)
    assert bootstrap._remembered(stamp) is not None


def test_a_given_catalog_is_used_without_looking_at_the_import_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hooks, "_given", None)

    def no_scan(*_: object) -> str:
        raise AssertionError("the import path was scanned")

    monkeypatch.setattr(hooks, "_cache_file", no_scan)
    hooks.use_catalog([["acme", "acme_threadline:hook", ["acme_lib.io", "acme_lib"]]])
    assert hooks.catalog() == [
        hooks.HookEntry("acme", "acme_threadline:hook", ("acme_lib.io", "acme_lib"))
    ]


def test_capture_loads_nothing_a_pandas_script_would_not(folder: Folder) -> None:
    """The modules capture adds to a pandas script's own: threadline's, and the few
    libraries it needs (blake3, orjson); not the reference canonicalizer, nor getpass."""
    pytest.importorskip("pandas")
    folder.write(
        "frame.py",
        """
        import sys
        import pandas as pd
        pd.DataFrame({"a": [1, 2]}).to_csv("out.csv", index=False)
        print("MODULES", " ".join(sorted(sys.modules)))
        """,
    )

    def modules(done: subprocess.CompletedProcess[str]) -> set[str]:
        (line,) = [x for x in done.stdout.splitlines() if x.startswith("MODULES ")]
        return set(line.split()[1:])

    plain = modules(
        subprocess.run(
            [sys.executable, "frame.py"],
            cwd=folder.root,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
    )
    # The first captured run in an environment reads the installed hooks' catalog from the
    # distributions' metadata (importlib.metadata brings email and tempfile) and keeps it in
    # the user's cache folder; every later run reads it back.  The test has a folder of its
    # own (tests/conftest.py), so the run measured is the second.
    folder.python("frame.py")
    captured = modules(folder.python("frame.py"))
    added = {m.partition(".")[0] for m in captured - plain}
    assert "threadline" in added  # capture ran
    # sitecustomize: threadline run's own (it starts the bootstrap)
    assert added <= {"threadline", "sitecustomize", "blake3", "orjson"}, sorted(added)
