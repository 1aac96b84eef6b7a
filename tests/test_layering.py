"""The rooms and what each may import, checked on the source (an AST walk, nothing is run).

- `crm/` owns the tables: its `<domain>/service.py` functions are the only code that reads or
  writes them. Outside `crm/` (`web/`, `telephony/`) a module never imports, at run time,
  SQLAlchemy (only `sqlalchemy.exc`'s exception classes, which the error net catches), a mapped
  class or table from whichever module re-exports it, `crm.db`'s declarative `Base`, or a
  `crm` models module as a whole; enums and constants of `crm.*.models` are fine. Under
  `if TYPE_CHECKING:` anything goes: an annotation cannot run a query.
- `crm` imports neither `telephony` nor `web`; `telephony` does not import `web`; no product
  module imports `bench` or `tests`.
- `migrations/` (the schema itself), `tests/` and `bench/` (which times the services against
  hand-written baseline queries and bulk-loads its data with the drivers) are exempt.
"""

from __future__ import annotations

import ast
import importlib
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("crm", "telephony", "web")
NO_QUERIES = ("telephony", "web")  # the rooms that ask crm's services instead
MAY_NOT_IMPORT = {
    "crm": ("telephony", "web", "bench", "tests"),
    "telephony": ("web", "bench", "tests"),
    "web": ("bench", "tests"),
}


@dataclass(frozen=True, slots=True)
class Breach:
    module: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.what}"


def _in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def _is_query_module(name: str) -> bool:
    return _in_package(name, "sqlalchemy") and not _in_package(name, "sqlalchemy.exc")


def _is_models_module(name: str) -> bool:
    return _in_package(name, "crm") and name.rsplit(".", 1)[-1] == "models"


def _forbidden(value: object) -> str | None:
    """Why a run-time import of this object builds queries, or None when it does not."""
    if isinstance(value, ModuleType):
        if _is_query_module(value.__name__):
            return f"SQLAlchemy's query API ({value.__name__})"
        if _is_models_module(value.__name__):
            return f"the models module {value.__name__} (import its enums by name)"
        return None
    if isinstance(value, type) and (
        hasattr(value, "__mapper__") or issubclass(value, DeclarativeBase)
    ):
        return f"the mapped class {value.__module__}.{value.__qualname__}"
    if isinstance(value, Table):
        return f"the table {value.name}"
    home = getattr(value, "__module__", None) if callable(value) else type(value).__module__
    if isinstance(home, str) and _is_query_module(home):
        return f"SQLAlchemy's query API ({home}.{getattr(value, '__name__', type(value).__name__)})"
    return None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Ids of the nodes under `if TYPE_CHECKING:` (annotations only, never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
            (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
            or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
        ):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The module an import names; relative ones resolved against `module`'s package."""
    if not node.level:
        return node.module or ""
    base = module.split(".")[: -node.level]
    return ".".join(base + ([node.module] if node.module else []))


def _imported(
    module: str, tree: ast.AST
) -> Iterator[tuple[ast.Import | ast.ImportFrom, str, str | None, str]]:
    """(node, module imported, name taken from it or None, local name) for every import;
    `import a.b` binds `a`, and stands for importing `a` as far as the local name goes."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, None, alias.asname or alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                yield node, source, alias.name, alias.asname or alias.name


def _resolve(source: str, name: str | None) -> object:
    """The object an import binds (crm and SQLAlchemy only: they are importable here)."""
    imported = importlib.import_module(source)
    if name is None:
        return imported
    if hasattr(imported, name):
        return getattr(imported, name)
    return importlib.import_module(f"{source}.{name}")


def room_breaches(module: str, tree: ast.AST) -> list[Breach]:
    """Imports across the rooms' walls (whether run or only type-checked)."""
    room = module.split(".")[0]
    found = []
    for node, source, name, _ in _imported(module, tree):
        targets = [source] if name is None else [source, f"{source}.{name}"]
        for other in MAY_NOT_IMPORT.get(room, ()):
            if any(_in_package(t, other) for t in targets[:1]):
                found.append(Breach(module, node.lineno, f"{room} imports {other} ({source})"))
    return found


def query_breaches(module: str, tree: ast.AST) -> list[Breach]:
    """Run-time imports (and attribute reads through imported crm modules) of SQLAlchemy's
    query API, mapped classes, tables and models modules."""
    skipped = _type_checking_nodes(tree)
    found = []
    modules: dict[str, str] = {}  # local name -> the crm module it is bound to
    for node, source, name, local in _imported(module, tree):
        if id(node) in skipped:
            continue
        if not (_in_package(source, "crm") or _in_package(source, "sqlalchemy")):
            continue
        if name is None and _is_query_module(source):
            found.append(Breach(module, node.lineno, f"imports SQLAlchemy's query API ({source})"))
            continue
        value = _resolve(source, name)
        why = _forbidden(value)
        if why is not None and _in_package(source, "sqlalchemy"):
            why = f"SQLAlchemy's query API ({source}.{name})"
        if why is not None:
            found.append(Breach(module, node.lineno, f"imports {why}"))
        elif isinstance(value, ModuleType) and _in_package(value.__name__, "crm"):
            top = source.split(".")[0]  # `import crm.x` binds `crm`, `import crm.x as y` crm.x
            modules[local] = top if name is None and local == top else value.__name__
    found += _attribute_reads(module, tree, skipped, modules)
    return sorted(set(found), key=lambda b: (b.line, b.what))


def _attribute_reads(
    module: str, tree: ast.AST, skipped: set[int], modules: dict[str, str]
) -> list[Breach]:
    """`service.CallbackTask`, `crm.callbacks.service.select`: forbidden objects reached
    through an imported crm module."""
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, ast.Attribute):
            continue
        chain: list[str] = []
        inner: ast.expr = node
        while isinstance(inner, ast.Attribute):
            chain.insert(0, inner.attr)
            inner = inner.value
        if not isinstance(inner, ast.Name) or inner.id not in modules:
            continue
        value: object = importlib.import_module(modules[inner.id])
        for attr in chain:
            value = getattr(value, attr, None)
            why = _forbidden(value) if value is not None else None
            if why is not None:
                found.append(Breach(module, node.lineno, f"reads {why}"))
                break
    return found


def _product_modules() -> Iterator[tuple[str, str, ast.AST]]:
    """(path relative to the root, dotted name, tree) of every product module."""
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            dotted = relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            yield relative, dotted, ast.parse(path.read_text(encoding="utf-8"), relative)


def test_the_rooms_import_only_downwards() -> None:
    breaches = [b for _, dotted, tree in _product_modules() for b in room_breaches(dotted, tree)]
    assert not breaches, "\n".join(map(str, breaches))


def test_only_crm_runs_queries() -> None:
    breaches = [
        b
        for relative, dotted, tree in _product_modules()
        if relative.split("/")[0] in NO_QUERIES
        for b in query_breaches(dotted, tree)
    ]
    assert not breaches, "ask a crm service instead:\n" + "\n".join(map(str, breaches))


def _check(source: str, module: str = "web.example") -> list[str]:
    tree = ast.parse(textwrap.dedent(source))
    return [b.what for b in query_breaches(module, tree) + room_breaches(module, tree)]


def test_the_check_finds_a_new_direct_query() -> None:
    """What the rule refuses, and what it lets through, on made-up modules."""
    refused = {
        "from sqlalchemy import select": "SQLAlchemy's query API",
        "import sqlalchemy": "SQLAlchemy's query API",
        "from sqlalchemy.ext.asyncio import AsyncSession": "SQLAlchemy's query API",
        "from sqlalchemy.orm import selectinload": "SQLAlchemy's query API",
        "from crm.calls.models import Call": "mapped class crm.calls.models.Call",
        "from crm.calls import models": "models module crm.calls.models",
        "import crm.calls.models": "models module crm.calls.models",
        "from crm.models import Customer": "mapped class crm.customers.models.Customer",
        "from crm.db import Base": "mapped class crm.db.Base",
        # Re-exported by a service module: still the mapped class, still refused.
        "from crm.callbacks.service import CallbackTask": "mapped class",
        "from crm.callbacks.service import select": "SQLAlchemy's query API",
        "from crm.callbacks import service\nservice.CallbackTask": "mapped class",
        "import crm.callbacks.service\ncrm.callbacks.service.select": "SQLAlchemy's query API",
        "import crm.callbacks.service as cb\ncb.select": "SQLAlchemy's query API",
        "def f():\n    from crm.users.models import User": "mapped class",
        "from crm.customers.models import Customer\nCustomer.__table__": "mapped class",
    }
    for source, why in refused.items():
        found = _check(source)
        assert found and all(why in f for f in found[:1]), (source, found)
    allowed = (
        "from sqlalchemy.exc import IntegrityError, OperationalError",
        "from sqlalchemy import exc",
        "from crm.calls.models import CallOutcome, Direction",
        "from crm.callbacks.models import CONSTRUCTION_STAGES, Outcome",
        "from crm.calls import service as calls\ncalls.get_live\ncalls.TicketOrigin",
        "from crm.db import Database",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from sqlalchemy.ext.asyncio import AsyncSession\n"
        "    from crm.calls.models import Call",
        "import typing\nif typing.TYPE_CHECKING:\n    from crm.users.models import User",
    )
    for source in allowed:
        assert _check(source) == [], source


def test_the_check_finds_an_import_across_the_walls() -> None:
    assert _check("from web.services import Services", "crm.example") == [
        "crm imports web (web.services)"
    ]
    assert _check("import telephony.events", "crm.example") == [
        "crm imports telephony (telephony.events)"
    ]
    assert _check("from web import tickets", "telephony.example") == ["telephony imports web (web)"]
    assert _check("from ..web import x", "telephony.sub.example") == []  # not our package
    assert _check("from tests.support import api", "web.example") == [
        "web imports tests (tests.support)"
    ]
    assert _check("from telephony.events import CallEnded", "web.example") == []
