"""The error tree: every class documented, with an HTTP status, an exit code and a JSON body."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
import tomllib
from pathlib import Path

import pytest

import threadline.errors as errors


def all_error_classes() -> list[type[errors.ThreadlineError]]:
    return [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.ThreadlineError)
    ]


def test_every_error_is_exported_and_drawn_in_the_module_docstring() -> None:
    classes = all_error_classes()
    assert sorted(c.__name__ for c in classes) == sorted(errors.__all__)
    doc = errors.__doc__ or ""
    for cls in classes:
        assert cls.__name__ in doc, cls
        assert cls.__doc__, cls


def test_every_error_has_a_status_an_exit_code_and_a_json_body() -> None:
    for cls in all_error_classes():
        assert 400 <= cls.http_status < 600
        assert cls.exit_code >= 1
        body = cls("something happened", detail={"path": "$.run"}).to_dict()
        assert body == {
            "error": cls.code,
            "message": "something happened",
            "detail": {"path": "$.run"},
        }


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))


PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _extras() -> dict[str, list[str]]:
    extras: dict[str, list[str]] = tomllib.loads(PYPROJECT.read_text())["project"][
        "optional-dependencies"
    ]
    return extras


def _distributions(extra: str) -> set[str]:
    """The distributions an extra installs, following ``threadline[...]`` references."""
    found: set[str] = set()
    for requirement in _extras()[extra]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert name, requirement
        if name.group() == "threadline":
            inner = re.search(r"\[([^\]]+)\]", requirement)
            assert inner, requirement
            for sub in inner.group(1).split(","):
                found |= _distributions(sub.strip())
        else:
            found.add(name.group().lower().replace("_", "-"))
    return found


def _installed_closure(names: set[str]) -> set[str]:
    """``names`` and everything they require when installed (the dev environment has them)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # excluded by its environment marker here
        for requirement in requirements:
            if "extra ==" in requirement:
                continue
            found = re.match(r"[A-Za-z0-9_.-]+", requirement)
            assert found, requirement
            todo.append(found.group().lower().replace("_", "-"))
    return seen


@pytest.mark.parametrize(("module", "extra"), sorted(errors.EXTRA_OF_MODULE.items()))
def test_the_extra_named_for_a_missing_module_installs_it(module: str, extra: str) -> None:
    providers = {
        d.lower().replace("_", "-")
        for d in importlib.metadata.packages_distributions().get(module, [])
    }
    assert providers, f"{module} is not installed in the dev environment"
    assert providers & _installed_closure(_distributions(extra)), (module, extra, providers)


def test_the_demo_installs_what_the_readme_tour_uses() -> None:
    # The tour runs `threadline serve`, Parquet files and scikit-learn after `make demo`.
    assert _distributions("demo") >= _distributions("server") | {"pandas", "scikit-learn"}


def test_a_missing_library_names_its_extra_and_threadline_itself_is_a_bug() -> None:
    missing = errors.MissingDependency.from_import(
        ModuleNotFoundError("No module named 'uvicorn.config'", name="uvicorn.config")
    )
    assert missing is not None
    assert missing.message.endswith("pip install 'threadline[server]'")
    unknown = errors.MissingDependency.from_import(ModuleNotFoundError("x", name="leftpad"))
    assert unknown is not None
    assert unknown.message.endswith("pip install leftpad")
    own = ModuleNotFoundError("x", name="threadline.cli.nothing")
    assert errors.MissingDependency.from_import(own) is None


def test_the_readme_documents_every_exit_code_the_errors_use() -> None:
    readme = (PYPROJECT.parent / "README.md").read_text()
    sentence = readme[readme.index("Errors print\none line and exit non-zero:") :]
    sentence = " ".join(sentence[: sentence.index(".\n")].split())
    documented = {int(code) for code in re.findall(r"\b(\d) (?:for|when)\b", sentence)}
    assert documented == {cls.exit_code for cls in all_error_classes()}, sentence
