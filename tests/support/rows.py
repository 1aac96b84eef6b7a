"""A row (or any value) a test expects to be there, typed as present: a missing one fails the
test where it was read, saying what was missing, instead of as an AttributeError on None later."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def found(value: T | None, what: str = "the row") -> T:
    assert value is not None, f"{what} is missing"
    return value
