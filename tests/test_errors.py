"""The error tree: every class documented, with an HTTP status, an exit code and a JSON body."""

from __future__ import annotations

import inspect

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
