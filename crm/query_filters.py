"""Narrowing a list's query by the filters its caller gave: a filter left out (None) is no
filter, one given keeps the rows whose column equals it."""

from __future__ import annotations

from typing import Any, TypeVarTuple

from sqlalchemy import Select, SQLColumnExpression

_Ts = TypeVarTuple("_Ts")


def equal_where_given(
    query: Select[*_Ts], *filters: tuple[SQLColumnExpression[Any], object]
) -> Select[*_Ts]:
    """The query with `column == value` for each (column, value) whose value is not None."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query
