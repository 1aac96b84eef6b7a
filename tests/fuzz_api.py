"""API fuzzing: schemathesis generates requests from the app's live OpenAPI document (valid
ones, and invalid ones), each operation is called in-process by a logged-in client of every
role it admits (tests/support/authz.py), and every response is checked: no 5xx, and a body
that matches the schema the operation declares.

tests/test_api_fuzz.py runs a short, derandomised pass in CI; a longer one is a command:

    .venv/bin/python -m tests.fuzz_api --examples 200 [--database-url URL] [--seed N]

(a throwaway, migrated SQLite database by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings, load_settings
from crm.users.models import User
from migrations import upgrade
from tests.support.api import USERS, Api, running_app
from tests.support.authz import PUBLIC, allowed
from tests.support.postgres import start_server
from tests.support.records import seed_records


def undeclared_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx, but the ones the operation declares (503 when the PBX is not connected …):
    those are its answers to the world as it is, not bugs."""
    if str(response.status_code) in case.operation.responses.status_codes:
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    undeclared_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
# Operations not fuzzed, and why.
EXCLUDED = {
    ("POST", "/api/auth/logout"): "takes no input, and would end the fuzzing client's session "
    "(tests/test_api.py and tests/test_authz_matrix.py log out clients of their own)",
}
CLIENT_OF_ROLE: dict[object, str] = {
    role: name for name, (role, _) in reversed(USERS.items())
}  # agent1, not 2


@dataclass(frozen=True, slots=True)
class Finding:
    operation: str
    who: str
    status: int
    problem: str


@dataclass
class FuzzReport:
    operations: int = 0
    requests: int = 0
    server_errors: int = 0
    findings: dict[tuple[str, str, int], Finding] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))

    def reached(self) -> set[str]:
        """Operations some request got past the door of (an answer but 401, 403 or 422)."""
        return {
            label
            for label, seen in self.statuses.items()
            if any(status not in (401, 403, 422) for status in seen)
        }

    def summary(self) -> str:
        by_class = Counter(
            f"{status // 100}xx" for seen in self.statuses.values() for status in seen.elements()
        )
        classes = ", ".join(f"{name}: {count}" for name, count in sorted(by_class.items()))
        lines = [
            f"{self.operations} operations ({len(self.reached())} answered past validation), "
            f"{self.requests} requests ({classes}), "
            f"{self.server_errors} 5xx, {len(self.findings)} distinct failures"
        ]
        lines += [
            f"- {f.operation} as {f.who}: {f.status}\n  {f.problem}" for f in self.findings.values()
        ]
        return "\n".join(lines)


def _request(case: Any) -> dict[str, Any]:
    """The case as httpx arguments (schemathesis serialises it for `requests`)."""
    sent = case.as_transport_kwargs(base_url="http://testserver")
    request: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "headers": {k: str(v) for k, v in (sent.get("headers") or {}).items()},
        "params": sent.get("params"),
    }
    if sent.get("files"):
        # A browser always names the file it uploads; schemathesis names it after the part.
        # A part's body goes on the wire as bytes: a generated number or object as its text.
        request["files"] = [
            (
                part,
                (
                    "upload.csv" if filename == part else filename,
                    body if isinstance(body, str | bytes) else json.dumps(body),
                ),
            )
            for part, (filename, body) in sent["files"]
        ]
        request["data"] = sent.get("data")
    elif "json" in sent:
        request["json"] = sent["json"]
    elif sent.get("data") is not None:
        data = sent["data"]
        request["content"] = data.encode() if isinstance(data, str) else data
    return request


async def _send(client: httpx.AsyncClient, arguments: dict[str, Any]) -> httpx.Response:
    """Send with the body read into memory first: a multipart upload is a stream, and the
    checks read the request back from the response."""
    request = client.build_request(**arguments)
    request.read()
    return await client.send(request)


class Fuzzer:
    """Sends schemathesis' cases through the app's in-process clients from a worker thread
    (Hypothesis runs synchronously there), each request on the app's own event loop."""

    def __init__(self, api: Api, ids: dict[str, object], *, seed: int) -> None:
        self.api, self.ids, self.seed = api, ids, seed
        self.loop = asyncio.get_running_loop()
        self.report = FuzzReport()
        # Nobody logged in, from an address of its own: the logins it fuzzes are throttled
        # there, not at the address the role clients log in again from.
        self.stranger = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api.app, client=("192.0.2.1", 40000)),
            base_url=api.base_url,
        )

    def client(self, role: object) -> httpx.AsyncClient:
        return self.stranger if role == "anonymous" else self.api[CLIENT_OF_ROLE[role]]

    def _run(self, coroutine: Coroutine[Any, Any, httpx.Response]) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def _check(self, operation: Any, who: object, case: Any) -> None:
        client = self.client(who)
        self.report.requests += 1
        try:
            response = self._run(_send(client, _request(case)))
        except Exception as crash:  # the app raised: a 500 to a real client
            self.report.server_errors += 1
            key = (operation.label, str(who), 500)
            self.report.findings.setdefault(
                key,
                Finding(
                    operation.label,
                    str(who),
                    500,
                    f"{type(crash).__name__}: {str(crash).splitlines()[0][:300]} — "
                    f"{case.method} {case.formatted_path} {case.query!r:.200} "
                    f"{_request(case).get('json')!r:.300}",
                ),
            )
            return
        self.report.statuses[operation.label][response.status_code] += 1
        if response.status_code >= 500 and (
            str(response.status_code) not in operation.responses.status_codes
        ):
            self.report.server_errors += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseException as failure:  # schemathesis' FailureGroup is an exception group
            if isinstance(failure, KeyboardInterrupt | SystemExit):
                raise
            key = (operation.label, str(who), response.status_code)
            failures = getattr(failure, "exceptions", (failure,))
            first_line = "; ".join(getattr(f, "title", type(f).__name__) for f in failures)
            self.report.findings.setdefault(
                key,
                Finding(
                    operation.label,
                    str(who),
                    response.status_code,
                    f"{first_line} — {case.method} {response.request.url} "
                    f"{_request(case).get('json')!r:.300}: {response.text[:300]}",
                ),
            )

    def fuzz_operation(self, operation: Any, who: object, examples: int) -> None:
        fixed = {
            name: self.ids[name]
            for name in (p.name for p in operation.path_parameters)
            if name in self.ids
        }
        strategies = [operation.as_strategy(generation_mode=mode) for mode in GenerationMode]
        # The examples the document declares: input no generator guesses (a real spreadsheet).
        strategies += operation.get_strategies_from_examples()
        if fixed and len(fixed) == len(list(operation.path_parameters)):
            # The records that exist too, not only ids nobody has.
            strategies += [
                operation.as_strategy(generation_mode=mode, path_parameters=fixed)
                for mode in GenerationMode
            ]
        for strategy in strategies:

            @hypothesis_settings(
                max_examples=examples,
                derandomize=self.seed == 0,  # the same cases every run, unless a seed is given
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                print_blob=False,
            )
            @given(case=strategy)
            def run(case: Any) -> None:
                self._check(operation, who, case)

            # Unsatisfiable: nothing to make invalid (no parameters, no body).
            with contextlib.suppress(Unsatisfiable):
                (hypothesis_seed(self.seed)(run) if self.seed else run)()


class UserKeeper:
    """Undoes what fuzzing the admin's routes does to the fuzzing users themselves (a role
    changed, an account deactivated, a new password or extension): puts each back as it
    was, and logs in again those whose sessions ended."""

    FIELDS = ("role", "is_active", "extension", "department", "password_hash", "display_name")

    def __init__(self, api: Api, db: Database) -> None:
        self.api, self.db = api, db
        self.kept: dict[str, tuple[object, ...]] = {}

    async def _users(self, session: Any) -> list[User]:
        return list(await session.scalars(select(User).where(User.username.in_(USERS))))

    async def keep(self) -> None:
        async with self.db.session() as session:
            for user in await self._users(session):
                self.kept[user.username] = tuple(getattr(user, f) for f in self.FIELDS)

    async def restore(self) -> None:
        async with self.db.session() as session:
            for user in await self._users(session):
                for name, value in zip(self.FIELDS, self.kept[user.username], strict=True):
                    setattr(user, name, value)
        for name in USERS:
            if (await self.api[name].get("/api/auth/me")).status_code != 200:
                await self.api[name].aclose()
                await self.api.login(name)


async def fuzz(
    api: Api,
    ids: dict[str, object],
    *,
    examples: int,
    seed: int = 0,
    who_may: Callable[[str, str], frozenset[object]] = allowed,
    after_each: Callable[[], Awaitable[None]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Every operation of the live OpenAPI document, by every role it admits (`who_may`),
    `after_each` run after each operation and role."""
    document = (await api.anonymous().get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    fuzzer = Fuzzer(api, ids, seed=seed)
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document is invalid
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key in EXCLUDED:
            continue
        fuzzer.report.operations += 1
        admitted = who_may(*key)
        callers = ["anonymous"] if admitted == PUBLIC else sorted(admitted, key=str)
        for who in callers:
            started = time.monotonic()
            await asyncio.to_thread(fuzzer.fuzz_operation, operation, who, examples)
            if after_each is not None:
                await after_each()
            if progress is not None:
                progress(f"{operation.label} as {who}: {time.monotonic() - started:.1f}s")
    await fuzzer.stranger.aclose()
    return fuzzer.report


async def run_fuzz(
    settings: Settings, database: Database, *, examples: int, seed: int = 0, verbose: bool = False
) -> FuzzReport:
    clock = FixedClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    async with running_app(settings, database, clock=clock) as api:
        ids = await seed_records(api, database, clock.now())
        keeper = UserKeeper(api, database)
        await keeper.keep()
        return await fuzz(
            api,
            ids,
            examples=examples,
            seed=seed,
            after_each=keeper.restore,
            progress=print if verbose else None,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="per operation, role and mode")
    parser.add_argument("--seed", type=int, default=0, help="0: derandomised")
    parser.add_argument("--database-url", help="a migrated database (default: a fresh SQLite)")
    parser.add_argument(
        "--postgres", action="store_true", help="on a throwaway PostgreSQL server (as CI does)"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("CALLCENTRE_SECRET_KEY", "fuzzing-only-secret-key")
    server = start_server() if args.postgres else None
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as cleanup:
        if server is not None:
            cleanup.callback(server.stop)
            server.psql("CREATE DATABASE fuzz")
        url = (
            args.database_url
            or (server.url("fuzz") if server else None)
            or f"sqlite+aiosqlite:///{Path(scratch) / 'fuzz.db'}"
        )
        if args.database_url is None:
            upgrade(url)
        settings = load_settings(
            database_url=url, default_area_code="029", recordings_dir=Path(scratch) / "recordings"
        )

        async def go() -> FuzzReport:
            database = Database(url)
            try:
                return await run_fuzz(
                    settings, database, examples=args.examples, seed=args.seed, verbose=args.verbose
                )
            finally:
                await database.dispose()

        report = asyncio.run(go())
    print(report.summary())
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
