"""`one_of(column, values)`: a column's value is in a list, in SQL whose text does not
change with the list's length.

`column.in_(values)` renders one placeholder per value, so each length is a statement of its
own. On PostgreSQL every statement the driver sees is prepared and kept, per pooled
connection, in a cache of 100 pruned at 150 (SQLAlchemy's asyncpg adapter): the bridge's
lookups of a batch of calls' numbers, agents and attempts filled each connection's cache with
a statement per batch size (41 of one, 36 of another, …), tens of kB each, which is why a
long-running process's memory rose for hours before it levelled off (bench/README.md,
busy_day).

Here PostgreSQL gets `column = ANY($1::type[])`, one array parameter whatever its length, so
one statement. SQLite has no arrays and keeps the expanding `IN (…)`: its statements are not
prepared per connection by the server, and the covering indexes stay usable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.sqltypes import BOOLEANTYPE
from sqlalchemy.sql.visitors import InternalTraversal


class OneOf(ColumnElement[bool]):
    """`column` is one of the values of `values`, an expanding bound parameter."""

    __visit_name__ = "one_of"
    inherit_cache = True
    type = BOOLEANTYPE
    _traverse_internals = [  # noqa: RUF012  (SQLAlchemy's own declaration, as its elements do)
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: BindParameter[Any]) -> None:
        self.column = column
        self.values = values

    def self_group(self, against: Any = None) -> ColumnElement[Any]:
        return Grouping(self) if against is not None else self


def one_of(column: Any, values: Iterable[Any] | str) -> ColumnElement[bool]:
    """`column` is one of `values`; a string names a parameter given at execution instead
    (a list), for statements built once: `one_of(Phone.number, "numbers")`."""
    if isinstance(values, str):
        parameter: BindParameter[Any] = bindparam(values, type_=column.type, expanding=True)
    else:
        parameter = bindparam(None, list(values), type_=column.type, expanding=True)
    return OneOf(column, parameter)


@compiles(OneOf)
def _in_list(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.values), **kw)


@compiles(OneOf, "postgresql")
def _any_array(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    # A clone keeps the parameter's key, by which the compiled statement's cache finds the
    # values of each later execution (SQLCompiler._cache_key_bind_match).
    array = element.values._clone()
    array.expanding = False
    array.type = ARRAY(element.column.type)
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY ({compiler.process(array, **kw)})"
