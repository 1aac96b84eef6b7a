"""The API fuzzed from its own OpenAPI document (tests/fuzz_api.py): every operation, by every
role it admits, with valid and invalid input — no 5xx but those an operation declares, no
answer that breaks its declared status codes, media type or schema. A short, derandomised
pass here (on PostgreSQL, the stricter database); `python -m tests.fuzz_api --examples 200`
runs the long one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from crm.clock import SystemClock
from crm.db import Database
from crm.settings import Settings, load_settings
from tests.fuzz_api import EXCLUDED, fuzz, run_fuzz
from tests.support.api import Api
from tests.support.authz import PUBLIC
from web import errors
from web.app import create_app

EXAMPLES = 3  # per operation, role, mode (valid, invalid) and ids (any, existing)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_no_operation_fails_or_breaks_its_declared_answers(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=settings.database_url,
        recordings_dir=tmp_path / "recordings",
        default_area_code="029",
    )
    report = await run_fuzz(settings, db, examples=EXAMPLES)
    assert report.findings == {}, report.summary()
    assert report.server_errors == 0, report.summary()
    document = create_app(settings, clock=SystemClock()).openapi()
    operations = sum(len(item) for item in document["paths"].values())
    assert report.operations == operations - len(EXCLUDED), report.summary()
    # Every operation answered something past the door at least once: the clients were
    # logged in with the right roles and the generated input reached the handlers.
    assert len(report.reached()) == report.operations, (
        sorted(set(report.statuses) - report.reached()),
        report.summary(),
    )


def test_the_document_declares_the_one_error_shape_for_every_operation(api_app: FastAPI) -> None:
    document = api_app.openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["ProblemsOut"]["properties"]["detail"]["items"] == {
        "$ref": "#/components/schemas/ProblemOut"
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            refused = operation["responses"]["4XX"]["content"]["application/json"]["schema"]
            assert refused == {"$ref": errors.PROBLEMS_REF}, (method, path)
            assert "422" not in operation["responses"], (method, path)


@pytest.fixture
def api_app(tmp_path: Path) -> FastAPI:
    return create_app(
        load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"), clock=SystemClock()
    )


class Promised(BaseModel):
    name: str


async def test_the_fuzzer_finds_a_crash_and_a_broken_promise() -> None:
    """The harness itself: an operation that crashes on some input and one whose answer is
    not what it declares are both reported (so the test above can fail)."""
    app = FastAPI()
    errors.install(app)

    @app.get("/crash/{n}")
    async def crash(n: int) -> dict[str, int]:
        if n % 3 == 0:
            raise RuntimeError("a bug")
        return {"n": n}

    @app.get("/liar", responses={200: {"model": Promised}}, response_model=None)
    async def liar() -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse({"name": 42})

    api = Api(app, "http://testserver", httpx.ASGITransport(app=app))
    report = await fuzz(api, {}, examples=20, who_may=lambda method, path: PUBLIC)
    found = {(f.operation, f.status) for f in report.findings.values()}
    assert ("GET /crash/{n}", 500) in found, report.summary()
    assert ("GET /liar", 200) in found, report.summary()
    assert report.server_errors >= 1
