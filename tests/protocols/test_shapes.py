from __future__ import annotations

import pytest

from burncloud.protocols.shapes import object_field


def test_object_field_is_the_nested_object_itself() -> None:
    inner = {"type": "text"}
    assert object_field({"source": inner}, "source") is inner


@pytest.mark.parametrize("value", [None, [], ["a"], "text", 0, 1, True])
def test_object_field_is_empty_for_what_is_not_an_object(value: object) -> None:
    assert object_field({"source": value}, "source") == {}


def test_object_field_is_a_new_empty_object_when_absent() -> None:
    first, second = object_field({}, "source"), object_field({}, "source")
    first["x"] = 1
    assert second == {}
