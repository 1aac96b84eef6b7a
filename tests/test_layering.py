"""The rooms and what each may import, checked on the source (an AST walk, nothing is run).

- `crm/` owns the tables: its `<domain>/service.py` functions are the only code that reads or
  writes them. Outside `crm/` (`web/`, `telephony/`) a module never imports, at run time,
  SQLAlchemy (only `sqlalchemy.exc`'s exception classes, which the error net catches), a mapped
  class or table from whichever module re-exports it, `crm.db`'s declarative `Base`, or a
  `crm` models module as a whole; enums and constants of `crm.*.models` are fine. Under
  `if TYPE_CHECKING:` anything goes: an annotation cannot run a query.
- `crm` imports neither `telephony` nor `web`; `telephony` does not import `web`; no product
  module imports `bench` or `tests`.
- One clock: no product module but `crm/clock.py` reads the wall or the monotonic time
  (`datetime.now`, `utcnow`, `date.today`, `time.time`, `time.monotonic`, `perf_counter`, an
  event loop's `time()`, ...); they take a `crm.clock.Clock`, and only the `callcentre`
  command (`web/cli.py`) makes the `SystemClock` they are given. Waiting (`asyncio.sleep`,
  `wait_for`) is not reading, and log records stamp themselves.
- The demo data (`crm.demo`) and the PBX simulator (`telephony.pbx_sim`) are not production
  code: only the commands that start them (`web.cli`, and `web.demo` behind `callcentre
  demo`) import them, besides themselves.
- A class name says one thing: no two product classes share one, but for the few listed in
  `SHARED_CLASS_NAMES` (the simulator's Asterisk names, and those still to be renamed).
- `migrations/` (the schema itself), `tests/` and `bench/` (which times the services against
  hand-written baseline queries and bulk-loads its data with the drivers) are exempt.
"""

from __future__ import annotations

import ast
import importlib
import textwrap
from collections.abc import Callable, Iterator
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


# What reads the time (referring to it is enough: `clock=time.monotonic` reads it later).
TIME_READS = frozenset(
    {
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
        *(
            f"time.{name}{suffix}"
            for name in ("time", "monotonic", "perf_counter", "process_time", "thread_time")
            for suffix in ("", "_ns")
        ),
        "time.clock_gettime",
        "time.clock_gettime_ns",
    }
)
# These read it only when not given a time: `time.localtime()` does, `localtime(t)` does not.
TIME_READS_WITHOUT_A_TIME = {
    "time.localtime": 1,
    "time.gmtime": 1,
    "time.ctime": 1,
    "time.asctime": 1,
    "time.strftime": 2,
}
LOOP_GETTERS = frozenset({"get_running_loop", "get_event_loop"})
CLOCK_MODULE = "crm.clock"
SYSTEM_CLOCK = "crm.clock.SystemClock"
MAKES_THE_CLOCK = frozenset({"web.cli"})  # the `callcentre` command: the one entry point


def _qualifier(module: str, tree: ast.AST) -> Callable[[ast.expr], str | None]:
    """The dotted name an expression stands for through the module's imports (`dt.now` after
    `from datetime import datetime as dt` is `datetime.datetime.now`), or None."""
    bound: dict[str, str] = {}
    for _, source, name, local in _imported(module, tree):
        if name is not None:
            bound[local] = f"{source}.{name}"
        else:  # `import a.b` binds `a`; `import a.b as c` binds `a.b`
            bound[local] = source if local != source.split(".")[0] else local

    def qualified(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return bound.get(node.id)
        if isinstance(node, ast.Attribute):
            inner = qualified(node.value)
            return None if inner is None else f"{inner}.{node.attr}"
        return None

    return qualified


def _is_event_loop(node: ast.expr) -> bool:
    """`asyncio.get_running_loop()`, `loop`, `self._loop`: what an event loop is called."""
    if isinstance(node, ast.Call):
        called = node.func
        name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
        return name in LOOP_GETTERS
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return isinstance(name, str) and name.lower().endswith("loop")


def clock_breaches(module: str, tree: ast.AST) -> list[Breach]:
    """Readings of the wall or monotonic time outside the clock module, and a SystemClock
    made anywhere but where the command builds the process."""
    if module == CLOCK_MODULE:
        return []
    qualified = _qualifier(module, tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = qualified(node.func)
            needs = TIME_READS_WITHOUT_A_TIME.get(name or "")
            if needs is not None and len(node.args) + len(node.keywords) < needs:
                found.append(Breach(module, node.lineno, f"reads the time ({name}())"))
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "time"
                and not node.args
                and _is_event_loop(func.value)
            ):
                found.append(Breach(module, node.lineno, "reads the time (an event loop's time())"))
        if isinstance(node, ast.Name | ast.Attribute):
            name = qualified(node)
            if name in TIME_READS:
                found.append(Breach(module, node.lineno, f"reads the time ({name})"))
            elif name == SYSTEM_CLOCK and module not in MAKES_THE_CLOCK:
                found.append(Breach(module, node.lineno, "makes its own SystemClock"))
    for node, source, name, _ in _imported(module, tree):
        imported = source if name is None else f"{source}.{name}"
        if imported in TIME_READS:
            found.append(Breach(module, node.lineno, f"reads the time ({imported})"))
        elif imported == SYSTEM_CLOCK and module not in MAKES_THE_CLOCK:
            found.append(Breach(module, node.lineno, "makes its own SystemClock"))
    return sorted(set(found), key=lambda b: (b.line, b.what))


NOT_PRODUCTION = ("crm.demo", "telephony.pbx_sim")
STARTS_THEM = frozenset({"web.cli", "web.demo"})  # `callcentre seed|demo|pbx-sim`


def demo_breaches(module: str, tree: ast.AST) -> list[Breach]:
    """Imports (run or only type-checked) of the demo data or the simulator by production
    code: anything but the commands that start them and their own packages."""
    if module in STARTS_THEM or any(_in_package(module, p) for p in NOT_PRODUCTION):
        return []
    found = []
    for node, source, name, _ in _imported(module, tree):
        targets = [source] if name is None else [source, f"{source}.{name}"]
        for package in NOT_PRODUCTION:
            if any(_in_package(t, package) for t in targets):
                found.append(Breach(module, node.lineno, f"imports {package} ({source})"))
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


def test_only_the_clock_reads_the_time() -> None:
    breaches = [b for _, dotted, tree in _product_modules() for b in clock_breaches(dotted, tree)]
    assert not breaches, "take a crm.clock.Clock where the object is built:\n" + "\n".join(
        map(str, breaches)
    )


def _clock_check(source: str, module: str = "telephony.example") -> list[str]:
    return [b.what for b in clock_breaches(module, ast.parse(textwrap.dedent(source)))]


def test_the_check_finds_a_new_reading_of_the_time() -> None:
    """What the clock rule refuses, and what it lets through, on made-up modules."""
    refused = {
        "from datetime import datetime\ndatetime.now(UTC)": "datetime.datetime.now",
        "import datetime\ndatetime.datetime.now()": "datetime.datetime.now",
        "import datetime as dt\ndt.datetime.utcnow()": "datetime.datetime.utcnow",
        "from datetime import datetime as D\nD.today()": "datetime.datetime.today",
        "from datetime import date\ndate.today()": "datetime.date.today",
        "import time\ntime.time()": "time.time",
        "import time\ntime.monotonic()": "time.monotonic",
        "import time\ntime.perf_counter_ns()": "time.perf_counter_ns",
        "from time import monotonic": "time.monotonic",
        "import time as t\ndef f(now=t.monotonic): ...": "time.monotonic",
        "import time\ntime.strftime('%H')": "time.strftime",
        "import time\ntime.localtime()": "time.localtime",
        "import asyncio\nasyncio.get_running_loop().time()": "an event loop's time()",
        "def f(loop):\n    return loop.time() + 5": "an event loop's time()",
        "class A:\n    def f(self):\n        return self._loop.time()": "event loop's time()",
        "from crm.clock import SystemClock\nSystemClock()": "makes its own SystemClock",
        "import crm.clock\ncrm.clock.SystemClock()": "makes its own SystemClock",
        "from crm import clock\nclock.SystemClock().now()": "makes its own SystemClock",
    }
    for source, why in refused.items():
        found = _clock_check(source)
        assert found and all(why in f for f in found[:1]), (source, found)
    allowed = (
        "from crm.clock import Clock\ndef f(clock: Clock):\n    return clock.now()",
        "def f(clock):\n    return clock.monotonic()",
        "from datetime import datetime, UTC\ndatetime.fromtimestamp(0, UTC)",
        "from datetime import datetime\ndef f(local: datetime):\n    return local.time()",
        "import time\ntime.localtime(0)\ntime.strftime('%H', time.gmtime(0))",
        "import asyncio\nasync def f():\n    await asyncio.sleep(1)",
        "import asyncio\nasync def f(e):\n    await asyncio.wait_for(e.wait(), 5)",
    )
    for source in allowed:
        assert _clock_check(source) == [], source
    assert _clock_check("import time\ntime.monotonic()", "crm.clock") == []
    assert _clock_check("from crm.clock import SystemClock\nSystemClock()", "web.cli") == []


# Names two product classes share. The simulator models Asterisk's own things under Asterisk's
# names (telephony/pbx_sim/); the others are still to be given names of their own.
SHARED_CLASS_NAMES = {
    "Bridge": "telephony.bridge (the AMI bridge) / pbx_sim (a PBX bridge)",
    "Call": "crm.calls.models (the call record) / pbx_sim (a simulated call)",
    "QueueMember": "telephony.queues / pbx_sim.queues (the simulated queue's member)",
    "Step": "crm.complaints.time_limits / pbx_sim.dialplan / pbx_check.conf_files",
    "Attempt": "crm.users.throttle (a login) / pbx_sim (a queue's ring attempt)",
    "Alert": "crm.wallboard.thresholds / crm.complaints.alerts: to be renamed",
    "Rule": "crm.quality.rules / crm.users.throttle: to be renamed",
    "Transcript": "crm.transcripts.models / telephony.speech.recognizer: to be renamed",
}


def test_a_class_name_says_one_thing() -> None:
    """Two product classes with one name (a Clock that is a complaint's time limit beside the
    Clock that tells the time) make every import a guess; a new one must be named apart."""
    homes: dict[str, list[str]] = {}
    for _, dotted, tree in _product_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                homes.setdefault(node.name, []).append(dotted)
    shared = {name: where for name, where in homes.items() if len(where) > 1}
    assert set(shared) <= set(SHARED_CLASS_NAMES), {
        name: where for name, where in shared.items() if name not in SHARED_CLASS_NAMES
    }
    renamed = set(SHARED_CLASS_NAMES) - set(shared)
    assert not renamed, f"no longer shared, take them off SHARED_CLASS_NAMES: {renamed}"


def test_production_code_never_imports_the_demo_or_the_simulator() -> None:
    breaches = [b for _, dotted, tree in _product_modules() for b in demo_breaches(dotted, tree)]
    assert not breaches, "demo data and the simulator are not production code:\n" + "\n".join(
        map(str, breaches)
    )


def test_the_check_finds_production_code_using_the_demo_or_the_simulator() -> None:
    def check(source: str, module: str = "web.example") -> list[str]:
        return [b.what for b in demo_breaches(module, ast.parse(textwrap.dedent(source)))]

    assert check("from crm.demo.seed import seed") == ["imports crm.demo (crm.demo.seed)"]
    assert check("from crm.demo import names") == ["imports crm.demo (crm.demo)"]
    assert check("import crm.demo", "crm.customers.service") == ["imports crm.demo (crm.demo)"]
    assert check("from telephony import pbx_sim", "telephony.bridge") == [
        "imports telephony.pbx_sim (telephony)"
    ]
    assert check(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from telephony.pbx_sim.server import PbxSimulator"
    ) == ["imports telephony.pbx_sim (telephony.pbx_sim.server)"]
    assert check("from crm.demo.seed import seed", "web.cli") == []
    assert check("from telephony.pbx_sim import PbxSimulator", "web.demo") == []
    assert check("from crm.demo import names", "crm.demo.seed") == []
    assert check("from crm.clock import Clock", "telephony.pbx_sim.clock") == []
    assert check("from crm.demography import x") == []  # a name that only starts alike
