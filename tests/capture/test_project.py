"""Project identity: every capture gets a namespace that unrelated projects do not share."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.support.runner import Project as Folder

import threadline
from threadline.capture.api import memory_namespace
from threadline.capture.project import (
    Project,
    folder_namespace,
    identify,
    origin_url,
    remote_namespace,
    without_credentials,
)
from threadline.config import resolve
from threadline.errors import UsageError
from threadline.model.ids import NodeId, split_uri
from threadline.query.tracing import trace
from threadline.store import open_store

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


def _repository(folder: Path, origin: str) -> None:
    _git(folder, "init", "-q")
    _git(folder, "remote", "add", "origin", origin)


# --- remotes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "git@github.com:Acme/Churn.git",
        "https://github.com/acme/churn",
        "https://github.com/acme/churn.git/",
        "https://x-token:ghp_secret@github.com/Acme/churn.git",
        "ssh://git@github.com:22/acme/churn.git",
        "github.com:acme/churn",
    ],
)
def test_every_url_of_one_repository_is_one_namespace(url: str) -> None:
    assert remote_namespace(url) == "github.com.acme.churn"


def test_other_repositories_and_hosts_are_other_namespaces() -> None:
    assert remote_namespace("git@gitlab.com:acme/churn.git") == "gitlab.com.acme.churn"
    assert remote_namespace("git@github.com:acme/fraud.git") == "github.com.acme.fraud"
    assert remote_namespace("https://git.corp.example/ml/team-a/churn.git") == (
        "git.corp.example.ml.team-a.churn"
    )


@pytest.mark.parametrize("url", ["/srv/git/churn.git", "file:///srv/git/churn.git", "../churn"])
def test_a_remote_on_the_local_disk_names_no_namespace(url: str) -> None:
    assert remote_namespace(url) is None


def test_credentials_are_never_recorded() -> None:
    assert without_credentials("https://bot:ghp_secret@github.com/a/b.git") == (
        "https://github.com/a/b.git"
    )
    assert without_credentials("git@github.com:a/b.git") == "git@github.com:a/b.git"


_URL_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=60
)


@given(host=_URL_TEXT, path=_URL_TEXT)
def test_a_namespace_is_one_word_that_ids_read_back(host: str, path: str) -> None:
    for url in (f"https://{host}/{path}", f"git@{host}:{path}"):
        try:
            namespace = remote_namespace(url)
        except ValueError:
            continue  # urlsplit refuses the text (e.g. a bad IPv6 literal): no remote to name
        if namespace is None:
            continue
        assert namespace
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in namespace)
        job = NodeId.parse(f"job:{namespace}/train.py/fit:Pipeline@ex:0123")
        assert (job.namespace, job.name) == (namespace, "train.py/fit:Pipeline")
        memory = memory_namespace(namespace)
        assert split_uri(f"{memory}/train.py/features") == (memory, "train.py/features")


# --- the repository, read without git ---------------------------------------------------------


@needs_git
def test_the_origin_is_read_from_the_config_file(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    assert origin_url(tmp_path) is None
    _git(tmp_path, "remote", "add", "upstream", "git@github.com:other/fork.git")
    _git(tmp_path, "remote", "add", "origin", "git@github.com:acme/churn.git")
    assert origin_url(tmp_path) == "git@github.com:acme/churn.git"


@needs_git
def test_a_worktree_reads_the_config_of_its_repository(tmp_path: Path) -> None:
    main = tmp_path / "main"
    main.mkdir()
    _repository(main, "https://github.com/acme/churn.git")
    _git(
        main,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@e",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
    )
    _git(main, "worktree", "add", "-q", str(tmp_path / "feature"))
    settings = resolve(environ={}, cwd=tmp_path)
    project = identify(settings, str(tmp_path / "feature" / "train.py"))
    assert (project.namespace, project.source) == ("github.com.acme.churn", "git-remote")
    assert project.root == str((tmp_path / "feature").resolve())


# --- the order: settings, repository, working directory ----------------------------------------


@needs_git
def test_a_repository_with_a_remote_is_named_by_it_and_jobs_by_their_path_in_it(
    tmp_path: Path,
) -> None:
    _repository(tmp_path, "https://bot:secret@github.com/Acme/churn.git")
    (tmp_path / "jobs").mkdir()
    project = identify(resolve(environ={}, cwd=tmp_path), str(tmp_path / "jobs" / "train.py"))
    assert project == Project(
        "github.com.acme.churn",
        str(tmp_path.resolve()),
        "git-remote",
        "https://github.com/Acme/churn.git",
    )
    # The same name from any working directory.
    assert project.job_name(tmp_path / "jobs" / "train.py") == "jobs/train.py"
    assert project.to_dict()["remote"] == "https://github.com/Acme/churn.git"


@needs_git
def test_a_repository_without_a_remote_is_named_by_its_folder(tmp_path: Path) -> None:
    repo = tmp_path / "Churn Model"
    (repo / "jobs").mkdir(parents=True)
    _git(repo, "init", "-q")
    project = identify(resolve(environ={}, cwd=tmp_path), str(repo / "jobs" / "train.py"))
    assert project.source == "git-root"
    assert project.namespace == folder_namespace(repo)
    assert project.namespace.startswith("churn-model-")


def test_outside_a_repository_the_working_directory_names_the_project(tmp_path: Path) -> None:
    if any((p / ".git").exists() for p in (tmp_path, *tmp_path.parents)):
        pytest.skip("the temporary folder is inside a git repository")
    a, b = tmp_path / "a" / "proj", tmp_path / "b" / "proj"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    settings = resolve(environ={}, cwd=tmp_path)
    project_a = identify(settings, str(a / "train.py"), cwd=str(a))
    project_b = identify(settings, str(b / "train.py"), cwd=str(b))
    assert project_a.source == project_b.source == "directory"
    assert project_a.namespace.startswith("proj-")
    assert project_a.namespace != project_b.namespace  # same folder name, other folder
    assert project_a.namespace == identify(settings, None, cwd=str(a)).namespace  # stable


@needs_git
def test_a_namespace_in_the_settings_wins_and_roots_jobs_at_the_settings_file(
    tmp_path: Path,
) -> None:
    _repository(tmp_path, "git@github.com:acme/mono.git")
    sub = tmp_path / "churn"
    (sub / "pipeline").mkdir(parents=True)
    (sub / "threadline.toml").write_text('namespace = "churn"\n')
    project = identify(resolve(environ={}, cwd=sub), str(sub / "pipeline" / "train.py"))
    assert project == Project("churn", str(sub.resolve()), "settings")
    assert project.job_name(sub / "pipeline" / "train.py") == "pipeline/train.py"
    assert project.named("other").source == "argument"
    with pytest.raises(UsageError, match=r"namespace 'acme/churn': a namespace is one word"):
        project.named("acme/churn")


def test_a_namespace_passed_to_the_api_is_checked(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="namespace 'team ml'"):
        threadline.run("train", namespace="team ml")


# --- two projects, one shared store --------------------------------------------------------------

TRAIN = """
    import sys

    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    frame = pd.read_csv(sys.argv[1])
    features = frame[["a", "b"]]
    model = LogisticRegression().fit(features, frame["label"])
    joblib.dump(model, "model.joblib")
"""


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_two_projects_with_a_train_py_share_nothing_in_one_store(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    rows = "a,b,label\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(40))
    folders = []
    for name, raw in (("alpha", "alpha_raw.csv"), ("beta", "beta_raw.csv")):
        root = tmp_path / name
        root.mkdir()
        folder = Folder(root=root.resolve(), db=db)
        folder.write("train.py", TRAIN)
        (root / raw).write_text(rows)  # the same rows: content-addressed versions would meet
        folder.python("train.py", raw)
        folders.append(folder)
    alpha, beta = folders

    store = open_store(db)
    try:
        graph = trace(store, str(alpha.root / "model.joblib"))
        names = {(node["kind"], node["namespace"], node["name"]) for node in graph.nodes}
        files = {name for kind, ns, name in names if ns.startswith("file://")}
        assert str(alpha.root / "alpha_raw.csv") in files
        assert not any(name.startswith(str(beta.root)) for name in files), files
        jobs = {(ns, name) for kind, ns, name in names if kind == "job"}
        namespaces = {ns for ns, name in jobs if name == "train.py/fit:LogisticRegression"}
        assert len(namespaces) == 1
        memory = {ns for kind, ns, _ in names if ns.startswith("threadline://")}
        assert memory == {memory_namespace(namespace) for namespace in namespaces}
        beta_graph = trace(store, str(beta.root / "model.joblib"))
        beta_jobs = {n["namespace"] for n in beta_graph.nodes if n["kind"] == "job"}
        assert beta_jobs.isdisjoint(namespaces)
    finally:
        store.close()
