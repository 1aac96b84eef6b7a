"""Every error the API returns has one shape: {"detail": [{"field", "code", "message"}]}, and
the OpenAPI document says so (every operation's 4XX answers). A last net catches what the
database refuses and what nothing else caught, so those answer in that shape too; input is
bounded where it enters (web/params.py), this net only keeps a miss from looking like a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm.errors import DomainError

log = logging.getLogger(__name__)


class ProblemOut(BaseModel):
    field: str | None
    code: str
    message: str


class ProblemsOut(BaseModel):
    """What every refused request answers: one entry per problem, naming the field."""

    detail: list[ProblemOut]


PROBLEMS_REF = "#/components/schemas/ProblemsOut"
# The net: what the database (or arithmetic on a value it was given) refused, as people read it.
_NET: dict[type[Exception], tuple[int, str, str]] = {
    IntegrityError: (
        409,
        "conflict",
        "the change refers to a record that does not exist, or repeats one that does",
    ),
    DataError: (422, "invalid_value", "a value the database cannot hold"),
    OverflowError: (422, "out_of_range", "a number or date out of range"),
    OperationalError: (503, "database_unavailable", "the database is unavailable; try again"),
    InterfaceError: (503, "database_unavailable", "the database is unavailable; try again"),
}

_CODES = {"missing": "required", "string_too_short": "required"}
OpenApiAnswers = dict[int | str, dict[str, Any]]


def answers(status: int, description: str) -> OpenApiAnswers:
    """An error an operation may give besides its 4XX ones (the PBX down, no font to embed),
    declared so that clients, and the API fuzzer, know it is one of its answers."""
    return {status: {"model": ProblemsOut, "description": description}}


def file_answer(media_type: str | tuple[str, ...], description: str) -> OpenApiAnswers:
    """A file as the operation's answer: its media type (or the ones it may be), not JSON."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    types = (media_type,) if isinstance(media_type, str) else media_type
    return {200: {"description": description, "content": dict.fromkeys(types, binary)}}


def _field(location: tuple[object, ...]) -> str | None:
    parts = [str(p) for p in location if p not in ("body", "query", "path")]
    if not parts:
        return None
    text = parts[0]
    for part in parts[1:]:
        text += f"[{part}]" if part.isdigit() else f".{part}"
    return text


def problem(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"field": field, "code": code, "message": message}]},
        status_code=status,
        headers=headers,
    )


def _net(status: int, code: str, message: str) -> Callable[..., Any]:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        log.warning(
            "%s %s: %s answered %s (%s)",
            request.method,
            request.url.path,
            type(exc).__name__,
            status,
            str(exc).splitlines()[0][:200] if str(exc) else "",
        )
        return problem(status, code, message)

    return handler


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI document describes the errors as they are: FastAPI's own 422 schema is
    replaced by ProblemsOut, and every operation declares its 4XX answers with it."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        shape = ProblemsOut.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(shape.pop("$defs", {}))
        schemas["ProblemsOut"] = shape
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        refused = {"application/json": {"schema": {"$ref": PROBLEMS_REF}}}
        for item in document.get("paths", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["4XX"] = {
                    "description": "Refused: not logged in (401), not allowed (403), not found "
                    "(404), conflicting (409), invalid (422), too many (429)",
                    "content": refused,
                }
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


async def unexpected_problem(request: Request, exc: Exception) -> JSONResponse:
    """A bug: logged with its traceback, answered without one (Starlette re-raises it)."""
    return problem(500, "internal_error", "something went wrong on the server; see its log")


async def http_problem(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Not found, not allowed…: as a problem, in the API's one shape."""
    if isinstance(exc.detail, list):
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )
    code = {
        401: "not_authenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
    }.get(exc.status_code, "error")
    return problem(
        exc.status_code,
        code,
        str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


def install(app: FastAPI) -> None:
    _document_errors(app)
    for error, (status, code, message) in _NET.items():
        app.add_exception_handler(error, _net(status, code, message))

    app.add_exception_handler(Exception, unexpected_problem)

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(exc.as_dict(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {
                "field": _field(tuple(e.get("loc", ()))),
                "code": _CODES.get(e.get("type", ""), e.get("type", "invalid")),
                "message": e.get("msg", "invalid"),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    app.add_exception_handler(StarletteHTTPException, http_problem)  # type: ignore[arg-type]
