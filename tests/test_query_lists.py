"""Lists computed at run time go into queries as `one_of(column, values)` (crm/one_of.py),
never `column.in_(values)`: on PostgreSQL each length of an `IN` list is a statement text of
its own, prepared and kept on every pooled connection (a busy day's bridge kept 137 per
connection). Checked on the source (an AST walk): `in_` is left to constant sets (a name in
capitals, a literal of members) and subqueries (`select(...)`, or a name bound to one)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("crm", "telephony", "web")


def _is_select(node: ast.expr) -> bool:
    """`select(...)` or a method chain on one (`select(...).where(...).limit(...)`)."""
    while isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id == "select"
        if not isinstance(node.func, ast.Attribute):
            return False
        node = node.func.value
    return False


def _is_constant(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id.isupper()
    if isinstance(node, ast.Attribute):  # Role.SUPERVISOR, TaskStatus.PENDING
        return node.attr.isupper()
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return all(_is_constant(e) for e in node.elts)
    return False


def _subquery_names(function: ast.AST) -> set[str]:
    return {
        target.id
        for node in ast.walk(function)
        if isinstance(node, ast.Assign) and _is_select(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _runtime_in_lists(tree: ast.AST) -> Iterator[int]:
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for function in [tree, *functions]:
        subqueries = _subquery_names(function)
        for node in ast.walk(function):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "in_"
                and len(node.args) == 1
            ):
                continue
            [arg] = node.args
            fine = (
                _is_constant(arg)
                or _is_select(arg)
                or (isinstance(arg, ast.Name) and arg.id in subqueries)
            )
            if not fine:
                yield node.lineno


def test_no_run_time_list_goes_into_in() -> None:
    found = sorted(
        f"{path.relative_to(ROOT)}:{line}"
        for room in PRODUCT
        for path in (ROOT / room).rglob("*.py")
        if path != ROOT / "crm" / "one_of.py"  # the one place an IN list is rendered
        for line in set(_runtime_in_lists(ast.parse(path.read_text(encoding="utf-8"))))
    )
    assert not found, f"a run-time list in `in_`: use crm.one_of.one_of at {found}"


def test_the_check_tells_a_run_time_list_from_a_constant_set() -> None:
    source = """
def f(session, ids, wanted):
    projects = select(Project.id).where(Project.customer_id == 1)
    a = Task.status.in_(WORKABLE)
    b = User.role.in_([Role.SUPERVISOR, Role.DEPARTMENT])
    c = Task.project_id.in_(projects)
    d = Task.id.in_(select(Attempt.task_id).where(Attempt.id == 2))
    e = Task.id.in_(ids)
    g = Task.id.in_([t.id for t in wanted])
    h = Task.id.in_(list(wanted))
"""
    assert sorted(set(_runtime_in_lists(ast.parse(source)))) == [8, 9, 10]
