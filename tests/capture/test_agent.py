"""The store's writer agent: ``threadline run`` hands its events to one long-lived process per
store, ends without waiting for their commit, and every reader still sees them."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from tests.support.events import event
from tests.support.runner import read_graph

from threadline import settings_files
from threadline.capture.agent_client import _listening
from threadline.capture.journal import DESTINATION_NAME, JOURNAL_NAME
from threadline.capture.listener import SOCKET_FOLDER_PREFIX
from threadline.capture.supervisor import Supervisor
from threadline.capture.supervisor_client import SocketSink
from threadline.store import normalize_url, open_store
from threadline.store.base import Cursor
from threadline.store.writer_agent import agent_paths, wait_for_agent

STEPS = """
import threadline
for n in range({steps}):
    with threadline.run(f"step-{{n}}") as step:
        with open(f"out-{{n}}.txt", "w") as handle:
            handle.write(str(n))
        step.wrote(f"out-{{n}}.txt")
"""


def agents(url: str) -> list[int]:
    """The pids of the running writer agents of ``url``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"threadline.capture.agent" in argv and url.encode() in argv and state != "Z":
            found.append(int(entry.name))
    return found


def run(folder: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threadline", "--store", "lineage.db", "run", "--", *command],
        cwd=folder,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def wait_until(condition: object, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def steps_in(db: Path, root: Path) -> set[str]:
    graph = read_graph(db, root)
    return {graph.nodes[r.job_node_id].name.rsplit(".", 1)[-1] for r in graph.runs}


@contextlib.contextmanager
def warm_supervisor(folder: Path) -> Iterator[tuple[Supervisor, SocketSink]]:
    """A supervisor writing to ``folder``'s ``lineage.db`` through its writer agent, warm (a
    ``python -c pass`` run started it: the store holds that run's two events), and a captured
    process's sink connected to it; on exit the sink (if the test did not) and the supervisor
    are closed, everything written."""
    run(folder, sys.executable, "-c", "pass")
    supervisor = Supervisor(str(folder / "lineage.db"))
    supervisor.start()
    try:
        sink = SocketSink(supervisor.path)
        try:
            yield supervisor, sink
        finally:
            sink.close(1.0)
    finally:
        supervisor.close(wait=True)


def handed_to_agent(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """The sizes of the batches a supervisor hands to the writer agent, by how: ``encoded``
    here, or ``relayed`` as the frame a process sent."""
    from threadline.capture.agent_client import AgentSink

    handed: dict[str, list[int]] = {"encoded": [], "relayed": []}
    real_batch, real_frame = AgentSink.emit_batch, AgentSink.emit_frame

    def encoded(self: AgentSink, events: list[dict[str, object]], *, durable: bool) -> None:
        handed["encoded"].append(len(events))
        real_batch(self, events, durable=durable)

    def relayed(
        self: AgentSink, frame: bytes, events: list[dict[str, object]], *, durable: bool
    ) -> None:
        handed["relayed"].append(len(events))
        real_frame(self, frame, events, durable=durable)

    monkeypatch.setattr(AgentSink, "emit_batch", encoded)
    monkeypatch.setattr(AgentSink, "emit_frame", relayed)
    return handed


def test_runs_share_one_agent_and_a_reader_sees_every_event(tmp_path: Path) -> None:
    (tmp_path / "steps.py").write_text(STEPS.format(steps=5))
    url = normalize_url(tmp_path / "lineage.db")
    run(tmp_path, sys.executable, "steps.py")
    # The first run started the agent and may have ended before it opened the store: the
    # reader below still sees every step (open_store waits for the agent).
    assert {f"step-{n}" for n in range(5)} <= steps_in(tmp_path / "lineage.db", tmp_path)
    first = agents(url)
    assert len(first) == 1
    run(tmp_path, sys.executable, "-c", "pass")
    assert agents(url) == first  # the second run used the same agent
    with open_store(tmp_path / "lineage.db") as store:
        assert store.verify().ok
    # Nothing is left in the temporary folder for this store but the agent's own files.
    leftovers = [
        p
        for p in Path(os.environ.get("TMPDIR") or "/tmp").glob(f"{SOCKET_FOLDER_PREFIX}*")
        if (p / DESTINATION_NAME).exists() and (p / DESTINATION_NAME).read_text() == url
    ]
    assert wait_until(lambda: not [p for p in leftovers if p.exists()], 10)


def test_an_idle_agent_exits_and_releases_its_lock(tmp_path: Path) -> None:
    url = normalize_url(tmp_path / "lineage.db")
    run(tmp_path, sys.executable, "-c", "pass", THREADLINE_AGENT_IDLE_SECONDS="0.5")
    assert wait_for_agent(url)
    assert wait_until(lambda: not agents(url), 15)
    paths = agent_paths(url)
    assert not Path(paths.socket).exists()
    fd = os.open(paths.lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: raises if still held
    finally:
        os.close(fd)


def test_no_agent_when_the_setting_is_zero(tmp_path: Path) -> None:
    (tmp_path / "steps.py").write_text(STEPS.format(steps=2))
    url = normalize_url(tmp_path / "lineage.db")
    run(tmp_path, sys.executable, "steps.py", THREADLINE_AGENT_IDLE_SECONDS="0")
    assert agents(url) == []
    assert {"step-0", "step-1"} <= steps_in(tmp_path / "lineage.db", tmp_path)


def test_an_agent_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    """kill -9 of the agent while a run writes through it: the run's supervisor writes the
    rest itself, every step is stored once and the store verifies."""
    url = normalize_url(tmp_path / "lineage.db")
    script = textwrap.dedent(
        """
        import os, signal, sys, time
        import threadline
        for n in range(40):
            if n == 20:
                threadline.flush()
                os.kill(int(open("agent.pid").read()), signal.SIGKILL)
                time.sleep(0.2)
            with threadline.run(f"step-{n}") as step:
                with open(f"out-{n}.txt", "w") as handle:
                    handle.write(str(n))
                step.wrote(f"out-{n}.txt")
        """
    )
    (tmp_path / "steps.py").write_text(script)
    run(tmp_path, sys.executable, "-c", "pass")  # starts the agent
    assert wait_for_agent(url)
    (pid,) = agents(url)
    (tmp_path / "agent.pid").write_text(str(pid))
    run(tmp_path, sys.executable, "steps.py")
    assert {f"step-{n}" for n in range(40)} <= steps_in(tmp_path / "lineage.db", tmp_path)
    with open_store(tmp_path / "lineage.db") as store:
        assert store.verify().ok
        bodies = [orjson.loads(e.body) for e in store.read_after(Cursor(0), limit=100_000)]
    ends = [
        b for b in bodies if b["eventType"] == "COMPLETE" and b["job"]["name"].endswith("step-7")
    ]
    assert len(ends) == 1  # written once, though the journal and the run both had it


def test_a_dead_supervisors_journal_is_written_before_a_reader_reads(tmp_path: Path) -> None:
    db = tmp_path / "lineage.db"
    url = normalize_url(db)
    run(tmp_path, sys.executable, "-c", "pass")  # an agent runs for this store
    # The folder of a supervisor that died (a pid that cannot run) with one batch journaled.
    tmp = Path(os.environ.get("TMPDIR") or "/tmp")
    folder = tmp / f"{SOCKET_FOLDER_PREFIX}{2**22 + 7}-{os.urandom(6).hex()}"
    folder.mkdir(mode=0o700)
    (folder / DESTINATION_NAME).write_text(url)
    batch = [event(n, "COMPLETE") for n in range(3)]
    (folder / JOURNAL_NAME).write_bytes(orjson.dumps({"events": batch}) + b"\n")
    with open_store(db) as store:
        stored = {
            orjson.loads(e.body)["run"]["runId"] for e in store.read_after(Cursor(0), limit=100_000)
        }
    assert {one["run"]["runId"] for one in batch} <= stored
    assert not folder.exists()


def test_a_reader_waits_for_an_agent_finishing_its_last_writes(tmp_path: Path) -> None:
    """No socket, lock held (an agent that stopped listening): the reader waits for the lock."""
    url = normalize_url(tmp_path / "lineage.db")
    paths = agent_paths(url)
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    releaser = threading.Timer(0.4, os.close, args=(fd,))
    releaser.start()
    started = time.monotonic()
    try:
        assert wait_for_agent(url, timeout=10)
        assert time.monotonic() - started >= 0.35
    finally:
        releaser.join()
        os.unlink(paths.lock)


def test_a_reader_gives_up_on_an_agent_that_never_answers(tmp_path: Path) -> None:
    url = normalize_url(tmp_path / "lineage.db")
    paths = agent_paths(url)
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert not wait_for_agent(url, timeout=0.3)
    finally:
        os.close(fd)
        os.unlink(paths.lock)


def test_the_agent_exits_when_its_store_file_is_removed(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    url = normalize_url(folder / "lineage.db")
    run(folder, sys.executable, "-c", "pass")
    assert wait_for_agent(url)
    assert agents(url)
    for name in ("lineage.db", "lineage.db-wal", "lineage.db-shm"):
        (folder / name).unlink(missing_ok=True)
    assert wait_until(lambda: not agents(url), 15)


def test_a_store_removed_between_two_runs_gets_the_next_runs_events(tmp_path: Path) -> None:
    """A project's store folder deleted to start afresh while its agent is still up: the next
    run's lineage is in the new store at the same path, not in the unlinked file the agent
    held open."""
    (tmp_path / "steps.py").write_text(STEPS.format(steps=2))
    url = normalize_url(tmp_path / "lineage.db")
    run(tmp_path, sys.executable, "steps.py")
    assert wait_for_agent(url)
    first = agents(url)
    for name in ("lineage.db", "lineage.db-wal", "lineage.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    run(tmp_path, sys.executable, "steps.py")
    assert {"step-0", "step-1"} <= steps_in(tmp_path / "lineage.db", tmp_path)
    assert agents(url) == first  # kept up: it followed the store instead of leaving


def test_a_store_removed_while_a_run_is_connected_keeps_its_agent(tmp_path: Path) -> None:
    """The store's files deleted while a command is still handing events over: the agent's
    idle check sees no file, but someone is connected, so it stays and writes the command's
    next batches into the store made anew at the same path (leaving would cut the command
    off a few seconds later and make its supervisor open the store itself)."""
    url = normalize_url(tmp_path / "lineage.db")
    with warm_supervisor(tmp_path) as (supervisor, sink):
        sink.emit_batch([event(n) for n in range(3)], durable=True)
        first = agents(url)
        for name in ("lineage.db", "lineage.db-wal", "lineage.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        time.sleep(1.5)  # three of the agent's idle checks
        assert _listening(agent_paths(url).socket)  # later commands still find it
        sink.emit_batch([event(n) for n in range(3, 5)], durable=True)
        assert agents(url) == first
    assert not supervisor.failed_events
    with open_store(tmp_path / "lineage.db") as store:
        assert store.counts()["events"] == 2


def test_a_refused_event_through_the_agent_costs_its_batch_nothing_else(tmp_path: Path) -> None:
    with warm_supervisor(tmp_path) as (supervisor, sink):
        batch = [event(n) for n in range(61)]
        del batch[30]["job"]["name"]
        sink.emit_batch(batch, durable=False)
        sink.close(1.0)
    assert (supervisor.events, supervisor.failed_events) == (60, 1)
    with open_store(tmp_path / "lineage.db") as store:
        assert store.counts()["events"] == 60 + 2  # and the `python -c pass` run's two


#: Modules a run's launcher and supervisor must not import when a writer agent serves the
#: store: each costs every captured command CPU (orjson ~20 ms: dataclasses, inspect, uuid;
#: json brings re; socket, signal and re build enums; pathlib brings urllib.parse, fnmatch,
#: ntpath; typing).  Frames are read and written with json's C half.
LAUNCHER_NEVER_IMPORTS = frozenset(
    {
        "orjson",
        "json",
        "re",
        "enum",
        "importlib",
        "warnings",
        "socket",
        "signal",
        "pathlib",
        "urllib.parse",
        "queue",
        "contextlib",
        "typing",
        "dataclasses",
        "sqlalchemy",
        "subprocess",
        "tempfile",
        "tomllib",
    }
)


def test_a_runs_launcher_imports_none_of_the_modules_it_can_do_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The launcher relays its processes' batches to a warm agent without loading orjson,
    json or the Python layers of socket, signal and the rest, and reads the project's
    settings file as an earlier command left it, without tomllib.  ``-X importtime`` is
    the launcher's alone (a flag, not inherited by the command).  The command sends events
    (three runs), asks questions (a script's run looks up earlier ones) and exits non-zero
    (its run ends are built here)."""
    (tmp_path / "steps.py").write_text(STEPS.format(steps=3) + "raise SystemExit(3)\n")
    (tmp_path / "threadline.toml").write_text('namespace = "steps"\n')
    # As if it had stood for a while when the warm-up run below read it.
    monkeypatch.setattr(settings_files, "SETTLED_SECONDS", -1.0)
    settings_files.find_settings_file(str(tmp_path))
    kept = Path(settings_files.memo_path(str(tmp_path / "threadline.toml")))
    request.addfinalizer(lambda: kept.unlink(missing_ok=True))  # not left in the shared /tmp
    run(tmp_path, sys.executable, "-c", "pass")  # a warm agent
    # The console script, as people run it (``-m`` would add runpy's imports).
    script = str(Path(sys.executable).with_name("threadline"))
    launcher = [sys.executable, "-X", "importtime", script, "--store", "lineage.db"]
    done = subprocess.run(
        [*launcher, "run", "--", sys.executable, "steps.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "threadline.capture.supervisor" in imported  # the launcher's imports were seen
    assert imported & LAUNCHER_NEVER_IMPORTS == set()
    assert {"step-0", "step-1", "step-2"} <= steps_in(tmp_path / "lineage.db", tmp_path)


def test_a_relayed_batch_is_stored_as_its_process_sent_it(tmp_path: Path) -> None:
    batch = [event(n) for n in range(5)]
    note = {"text": 'ünïcode ☃ 𝄞 "quoted" \\ \n', "ratio": 0.1, "large": 2**40, "none": None}
    batch[2]["run"]["facets"] = {"note": note}
    with warm_supervisor(tmp_path) as (supervisor, sink):
        sink.emit_batch(batch[:3], durable=True)
        sink.emit_batch(batch[3:], durable=False)
        sink.close(1.0)
    assert (supervisor.events, supervisor.failed_events) == (5, 0)
    with open_store(tmp_path / "lineage.db") as store:
        stored = [orjson.loads(e.body) for e in store.read_after(Cursor(0), limit=1000)]
    assert [e for e in stored if e["job"] == {"namespace": "test", "name": "job"}] == batch


def test_the_supervisor_relays_a_batch_frame_without_encoding_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A captured process's batch goes to the agent as the frame it arrived in; only what the
    supervisor builds itself (a process's report, a run end) is encoded here."""
    handed = handed_to_agent(monkeypatch)
    with warm_supervisor(tmp_path) as (supervisor, sink):
        sink.emit_batch([event(n) for n in range(3)], durable=True)
        sink.emit_batch([event(n) for n in range(3, 5)], durable=False)  # held, alone
        sink.close(1.0)
    assert (supervisor.events, supervisor.failed_events) == (5, 0)
    assert handed == {"encoded": [], "relayed": [3, 2]}
    with open_store(tmp_path / "lineage.db") as store:
        assert store.counts()["events"] == 2 + 5  # the `python -c pass` run's two, and ours


def test_batches_sent_close_together_reach_the_agent_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short command's batches (its run's start as a script begins, the rest as it exits)
    are acknowledged on receipt and handed to the agent as one: one store transaction and one
    projection for the run instead of one per batch."""
    handed = handed_to_agent(monkeypatch)
    with warm_supervisor(tmp_path) as (_, sink):
        for first in (0, 2, 4):
            sink.emit_batch([event(first), event(first + 1)], durable=False)
        sink.close(1.0)
    assert handed == {"encoded": [6], "relayed": []}
    with open_store(tmp_path / "lineage.db") as store:
        assert store.counts()["events"] == 2 + 6  # the `python -c pass` run's two, and ours


def test_a_question_is_answered_after_the_batches_sent_before_it_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches waiting to be handed over together are written before a question of the
    command's processes is answered: a later step asks what an earlier one recorded."""
    from tests.support.events import dataset

    from threadline.capture import supervisor as supervisor_module
    from threadline.capture.supervisor_client import SupervisorRecorded

    monkeypatch.setattr(supervisor_module, "_HOLD_SECONDS", 30.0)  # never what lets it through
    with warm_supervisor(tmp_path) as (supervisor, sink):
        sink.emit_batch([event(1, outputs=[dataset("held.csv")])], durable=False)
        questions = SupervisorRecorded(supervisor.path)
        started = time.monotonic()
        try:
            answers = questions.produced([("file://h", "held.csv"), ("file://h", "never.csv")])
        finally:
            questions.close()
            sink.close(1.0)
    assert answers == [True, False]
    assert time.monotonic() - started < 15  # not after the batch's hold ran out


def test_a_process_that_exits_has_its_held_batches_written_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process's events connection closing (the process exited) ends the hold: the next
    step of the command, or anyone, reading the store finds what the process sent."""
    from threadline.capture import supervisor as supervisor_module

    monkeypatch.setattr(supervisor_module, "_HOLD_SECONDS", 30.0)  # never what lets it through
    with warm_supervisor(tmp_path) as (_, sink):
        sink.emit_batch([event(1), event(2)], durable=False)
        sink.close(1.0)

        def written() -> bool:
            with open_store(tmp_path / "lineage.db") as store:
                return store.counts()["events"] == 2 + 2

        assert wait_until(written, 15)


def test_a_process_sending_all_the_time_has_its_batches_written_as_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hold counts from the first batch held: a process sending more often than the hold
    lasts (a long training loop) still has its lineage written every hold, not at its exit."""
    from threadline.capture import supervisor as supervisor_module

    monkeypatch.setattr(supervisor_module, "_HOLD_SECONDS", 0.2)
    handed = handed_to_agent(monkeypatch)
    with warm_supervisor(tmp_path) as (_, sink):
        for n in range(12):
            sink.emit_batch([event(n)], durable=False)
            time.sleep(0.1)
        before_exit = sum(handed["encoded"]) + sum(handed["relayed"])
        sink.close(1.0)
    assert before_exit >= 4
    assert sum(handed["encoded"]) + sum(handed["relayed"]) == 12


def test_held_batches_are_written_once_they_add_up_to_a_group_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a supervisor holds stays bounded: past a group commit's worth of events the held
    batches are written without waiting for the hold."""
    from threadline.capture import supervisor as supervisor_module

    monkeypatch.setattr(supervisor_module, "_HOLD_SECONDS", 30.0)
    monkeypatch.setattr(supervisor_module, "_HOLD_EVENTS", 5)
    handed = handed_to_agent(monkeypatch)
    with warm_supervisor(tmp_path) as (_, sink):
        for first in (0, 2, 4):
            sink.emit_batch([event(first), event(first + 1)], durable=False)
        assert wait_until(lambda: handed["encoded"] == [6], 15)
        sink.close(1.0)


def test_the_agent_refuses_a_frame_that_is_no_batch_and_keeps_the_connection(
    tmp_path: Path,
) -> None:
    import socket

    from threadline.capture.framing import (
        ACK_OK,
        ACK_REFUSED,
        EVENTS,
        recv_exact,
        recv_frame,
        send_frame,
    )

    db = tmp_path / "lineage.db"
    run(tmp_path, sys.executable, "-c", "pass")  # a warm agent
    url = normalize_url(str(db))
    assert wait_for_agent(url)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(agent_paths(url).socket)
        send_frame(sock, orjson.dumps({"role": EVENTS, "pid": os.getpid()}))
        for garbage in (b"{not json", b'{"events": [NaN]}', b"[1, 2]"):
            send_frame(sock, garbage)
            assert recv_exact(sock, 1) == ACK_REFUSED
            reason = recv_frame(sock)
            assert reason is not None
            assert reason.startswith(b"not a batch message")
        send_frame(sock, orjson.dumps({"events": [event(7)], "durable": True}))
        assert recv_exact(sock, 1) == ACK_OK
    with open_store(db) as store:
        assert store.counts()["events"] == 2 + 1  # the `python -c pass` run's two, and ours


@pytest.fixture(autouse=True)
def _no_agent_outlives_its_test(tmp_path: Path) -> object:
    yield None
    for folder in [tmp_path, tmp_path / "project"]:
        for pid in agents(normalize_url(folder / "lineage.db")):
            os.kill(pid, signal.SIGTERM)


def test_runs_ending_close_together_share_one_look_for_abandoned_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command's end asks for a look; while busy, one per spacing is taken (a reader's
    flush always looks at once), and a deferred look is remembered, not dropped."""
    import socket

    from threadline.capture import agent as agent_module
    from threadline.capture.emitter import StoreSink

    looks: list[float] = []
    real = agent_module.abandoned_run_ends

    def counted(store: object) -> list[dict[str, object]]:
        looks.append(time.monotonic())
        return real(store)  # type: ignore[arg-type]

    monkeypatch.setattr(agent_module, "abandoned_run_ends", counted)
    url = normalize_url(str(tmp_path / "lineage.db"))
    (tmp_path / "tmp").mkdir()
    with socket.socket(socket.AF_UNIX) as unused, open_store(url) as store:
        agent = agent_module.Agent(url, unused, -1, 60.0)
        agent._sink = StoreSink(store)
        agent._tmp = str(tmp_path / "tmp")
        for _ in range(10):
            agent._run(agent_module._Task(sweep=True))
        assert len(looks) == 1
        assert agent._sweep_wanted
        agent._run(agent_module._Task(sweep=True, sweep_now=True))
        assert len(looks) == 2
        agent._last_sweep -= agent_module._SWEEP_SPACING
        assert agent._sweep_due()
        agent._run(agent_module._Task(sweep=True))
        assert len(looks) == 3
