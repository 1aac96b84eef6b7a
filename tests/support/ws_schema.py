"""Checking a websocket message the server sent against what it is declared to be: its pydantic
model (web/ws_messages.py) and its component in the app's OpenAPI document."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema_rs

from crm.clock import SystemClock
from crm.settings import load_settings
from web.app import create_app
from web.ws_messages import SERVER_MESSAGE


@cache
def openapi_document() -> dict[str, Any]:
    """The document as the app publishes it (no database is reached to build it)."""
    app = create_app(
        load_settings(database_url="sqlite+aiosqlite:///:memory:"), clock=SystemClock()
    )
    return app.openapi()


@cache
def _validator(component: str) -> Any:
    components = openapi_document()["components"]
    schema = {"$ref": f"#/components/schemas/{component}", "components": components}
    return jsonschema_rs.Draft202012Validator(schema)


def component_errors(message: Any, component: str = "ServerMessage") -> list[str]:
    """Where the message breaks the document's component (none: it fits)."""
    return [error.message for error in _validator(component).iter_errors(message)]


def checked(message: dict[str, Any]) -> dict[str, Any]:
    """The message, once it is known to be exactly what its model makes (no field the model
    lacks, none it would write differently) and to fit the published component."""
    model = SERVER_MESSAGE.validate_json(json.dumps(message))
    remade = model.model_dump(mode="json")
    assert remade == message, f"{message['type']} is not what its model makes:\n{message}\n{remade}"
    errors = component_errors(message)
    assert not errors, f"{message['type']} does not fit ServerMessage: {errors}"
    assert not component_errors(message, type(model).__name__)
    return message
