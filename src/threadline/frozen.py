"""Frozen records for the classes every threadline process defines at start-up.

``@dataclass(frozen=True)`` costs ~3 ms to define a class of fifty fields on Python 3.11 (each
generated method is its own ``exec``, each string annotation is matched against
``ClassVar``/``InitVar``): :class:`threadline.config.Settings` alone was the largest single
import of ``threadline run``'s supervisor and of a captured process starting capture.
:func:`frozen_record` gives the same behaviour (keyword-or-positional ``__init__`` with the
defaults, ``__post_init__``, ``__repr__``, ``__eq__``, ``__hash__``, read-only attributes) with
methods that read the field list when called instead of methods compiled per class: defining
the class costs microseconds, making an instance a few more than a dataclass's (fine for
settings, made a few times per process; keep dataclasses for classes made by the thousand).
Type checkers see a frozen dataclass (``dataclass_transform``).

What it does not do (use :mod:`dataclasses` for those): ``field()`` options, default
factories, ordering, slots, inheritance of fields.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    _T = TypeVar("_T")
else:

    def dataclass_transform(**_: object) -> Callable[[_T], _T]:
        """Nothing at run time: what typing's marks is read by type checkers alone."""
        return lambda decorated: decorated


_FIELDS = "__record_fields__"


class FrozenRecordError(AttributeError):
    """An attribute of a frozen record was assigned or deleted."""


def _refuse(self: object, name: str, value: object = None) -> None:
    raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")


def _is_class_variable(annotation: object) -> bool:
    return str(annotation).partition("[")[0] in ("ClassVar", "typing.ClassVar")


@dataclass_transform(frozen_default=True)
def frozen_record(cls: type[_T]) -> type[_T]:
    """Make ``cls`` (annotated fields, defaults as class attributes) a frozen record."""
    # Not inspect.get_annotations: inspect is a third of the import time this module saves.
    annotations: dict[str, Any] = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    names = tuple(n for n in annotations if not _is_class_variable(annotations[n]))
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    required = tuple(n for n in names if n not in defaults)
    if names[: len(required)] != required:
        raise TypeError(f"{cls.__name__}: a field without a default follows one with a default")
    post_init = getattr(cls, "__post_init__", None)
    qualname = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{qualname}() takes {len(names)} positional arguments")
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{qualname}() got an unexpected keyword argument {name!r}")
            if name in values:
                raise TypeError(f"{qualname}() got multiple values for argument {name!r}")
            values[name] = value
        missing = [n for n in required if n not in values]
        if missing:
            raise TypeError(f"{qualname}() missing required argument(s): {', '.join(missing)}")
        for name in names:
            object.__setattr__(self, name, values[name] if name in values else defaults[name])
        if post_init is not None:
            post_init(self)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, n) for n in names))

    def __repr__(self: Any) -> str:
        return f"{qualname}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

    for function in (__init__, __eq__, __hash__, __repr__):
        function.__qualname__ = f"{qualname}.{function.__name__}"
        setattr(cls, function.__name__, function)
    cls.__setattr__ = _refuse  # type: ignore[method-assign]
    cls.__delattr__ = _refuse  # type: ignore[method-assign]
    setattr(cls, _FIELDS, names)
    return cls


def record_fields(cls_or_record: Any) -> tuple[str, ...]:
    """The field names of a frozen record (class or instance), in order."""
    fields: tuple[str, ...] = getattr(cls_or_record, _FIELDS)
    return fields


def record_defaults(cls: type) -> dict[str, Any]:
    """The fields of ``cls`` that have a default, with it."""
    return {n: cls.__dict__[n] for n in record_fields(cls) if n in cls.__dict__}


def replace(record: _T, **changes: Any) -> _T:
    """A copy of ``record`` with ``changes`` (``__post_init__`` checks it again)."""
    names = record_fields(record)
    unknown = set(changes) - set(names)
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field(s) {', '.join(sorted(unknown))}")
    return type(record)(**{n: changes[n] if n in changes else getattr(record, n) for n in names})


__all__ = ["FrozenRecordError", "frozen_record", "record_defaults", "record_fields", "replace"]
