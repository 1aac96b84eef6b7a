"""Rows written many at a time, in batches of a few fixed sizes.

An INSERT of n rows in one statement (SQLAlchemy's "insertmanyvalues") is a statement of its
own for each n. On PostgreSQL each is prepared and kept in its pooled connection's cache
(crm/one_of.py tells what that cost the bridge); cut into batches whose sizes are powers of
two up to 64, any number of rows goes through at most 7 statements, in ⌈log2⌉ round trips or
fewer for batches under 128 rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

LARGEST = 64


def power_of_two_batches(rows: Sequence[T], largest: int = LARGEST) -> Iterator[Sequence[T]]:
    """`rows` in order, in consecutive batches of 64, 32, …, 2 or 1 rows, largest first."""
    start = 0
    while start < len(rows):
        size = min(largest, 1 << ((len(rows) - start).bit_length() - 1))
        yield rows[start : start + size]
        start += size
