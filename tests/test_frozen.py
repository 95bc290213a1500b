"""Frozen records (:mod:`threadline.frozen`): what a frozen dataclass would do, checked side by side."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pytest

from threadline.frozen import FrozenRecordError, frozen_record, record_fields, replace


@frozen_record
class Point:
    """A record with a required field, defaults, a class variable and a check."""

    x: int
    y: int = 0
    label: str | None = None
    dimensions: ClassVar[int] = 2

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError(f"x = {self.x} is negative")


@dataclasses.dataclass(frozen=True)
class PointDataclass:
    x: int
    y: int = 0
    label: str | None = None


def test_fields_are_the_annotated_names_in_order_without_class_variables() -> None:
    assert record_fields(Point) == ("x", "y", "label")
    assert record_fields(Point(1)) == ("x", "y", "label")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, 2), {}), ((1,), {"label": "a"}), ((), {"x": 3, "y": 4, "label": "b"})],
)
def test_it_is_made_like_the_dataclass(args: tuple[int, ...], kwargs: dict[str, object]) -> None:
    ours, theirs = Point(*args, **kwargs), PointDataclass(*args, **kwargs)  # type: ignore[arg-type]
    assert (ours.x, ours.y, ours.label) == (theirs.x, theirs.y, theirs.label)
    assert repr(ours) == repr(theirs).replace("PointDataclass", "Point")
    assert hash(ours) == hash(Point(ours.x, ours.y, ours.label))


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing required argument(s): x"),
        ((1, 2, "a", 4), {}, "takes 3 positional arguments"),
        ((1,), {"z": 1}, "unexpected keyword argument 'z'"),
        ((1,), {"x": 2}, "multiple values for argument 'x'"),
        ((1,), {"dimensions": 3}, "unexpected keyword argument 'dimensions'"),
    ],
)
def test_wrong_arguments_are_named(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError) as raised:
        Point(*args, **kwargs)  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_fields_cannot_be_assigned_or_deleted() -> None:
    point = Point(1)
    with pytest.raises(FrozenRecordError, match="'x' of a frozen Point"):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.y
    assert point.x == 1


def test_equality_is_by_class_and_every_field() -> None:
    assert Point(1, 2) == Point(x=1, y=2)
    assert Point(1, 2) != Point(1, 3)
    assert Point(1, 2, "a") != Point(1, 2, "b")
    assert Point(1) != PointDataclass(1)  # type: ignore[comparison-overlap]
    assert len({Point(1), Point(1), Point(2)}) == 2


def test_post_init_checks_every_new_record_replace_included() -> None:
    with pytest.raises(ValueError, match="x = -1 is negative"):
        Point(-1)
    moved = replace(Point(1, 2, "a"), y=5)
    assert moved == Point(1, 5, "a")
    with pytest.raises(ValueError, match="negative"):
        replace(moved, x=-2)
    with pytest.raises(TypeError, match="no field"):
        replace(moved, z=1)


def test_a_required_field_after_a_default_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default follows"):

        @frozen_record
        class Broken:
            a: int = 0
            b: int  # type: ignore[misc]
