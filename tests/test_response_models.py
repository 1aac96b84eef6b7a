"""Every answer is declared. A route that answers JSON names a pydantic response model (so the
OpenAPI document describes the answer, FastAPI checks it on the way out, and the API fuzzer
checks it against the document); a route that answers something else (a file, a page, a
redirect, nothing) says which with its response class, so the document does not promise
JSON. Read from the app's own route table: a new route is held to it from the start."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from crm.clock import SystemClock
from crm.settings import load_settings
from tests.support.ws_schema import openapi_document
from web.app import create_app


def described(annotation: Any) -> bool:
    """Whether a response model says what each field of the answer is: a pydantic model, or
    a list of them, or one of them or null. A dict, Any or nothing at all says nothing."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list:
        return described(args[0])
    if origin in (Union, types.UnionType):
        shapes = [a for a in args if a is not type(None)]
        return bool(shapes) and all(described(a) for a in shapes)
    return False


def undeclared(app: FastAPI) -> list[str]:
    """The routes whose answer is not declared, with what is missing."""
    found = []
    for route in iter_route_contexts(app.routes):
        if not isinstance(getattr(route, "original_route", route), APIRoute):
            continue  # the websocket, the static files, FastAPI's own /docs and /openapi.json
        name = f"{','.join(sorted(route.methods or ()))} {route.path}"
        chosen = route.response_class
        if isinstance(chosen, DefaultPlaceholder):
            if not described(route.response_model):
                found.append(f"{name}: answers JSON without a pydantic response_model")
        elif not issubclass(chosen, Response):
            found.append(f"{name}: response_class {chosen!r} is not a Response")
        elif issubclass(chosen, JSONResponse) and not described(route.response_model):
            found.append(f"{name}: answers JSON without a pydantic response_model")
    return found


def test_every_json_route_declares_a_pydantic_response_model() -> None:
    app = create_app(
        load_settings(database_url="sqlite+aiosqlite:///:memory:"), clock=SystemClock()
    )
    assert undeclared(app) == []


def test_the_document_gives_every_answer_a_shape_or_a_media_type() -> None:
    """What the routes declare reaches the document: each operation's success answer has a
    schema, or a media type that is not JSON, or (204) no body."""
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            success = {k: v for k, v in operation["responses"].items() if k.startswith("2")}
            assert success, (method, path)
            for status, answer in success.items():
                if status == "204":
                    assert "content" not in answer, (method, path)
                    continue
                content = answer["content"]
                if "application/json" in content:
                    assert content["application/json"].get("schema"), (method, path, status)
                else:
                    assert content, (method, path, status)


def test_an_undeclared_answer_is_found() -> None:
    """The check itself: a dict answer, an Any answer, a bare answer, and a page or a file
    served as if it were JSON are all reported; declared ones are not."""
    app = FastAPI()

    class Shape(BaseModel):
        name: str

    @app.get("/typed", response_model=Shape)
    async def typed() -> Shape:
        return Shape(name="x")

    @app.get("/typed-list", response_model=list[Shape] | None)
    async def typed_list() -> list[Shape] | None:
        return []

    @app.get("/a-dict")
    async def a_dict() -> dict[str, Any]:
        return {}

    @app.get("/anything")
    async def anything() -> Any:
        return {}

    @app.get("/bare")
    async def bare():  # unannotated on purpose: the check must catch it
        return {}

    @app.get("/page")
    async def page() -> Response:
        return Response("<p>", media_type="text/html")

    @app.get("/declared-page", response_class=Response)
    async def declared_page() -> Response:
        return Response("<p>", media_type="text/html")

    assert [problem.split(":")[0] for problem in undeclared(app)] == [
        "GET /a-dict",
        "GET /anything",
        "GET /bare",
        "GET /page",
    ]
