"""CALLCENTRE_LOG_FORMAT=json: every line the server writes is one JSON object, uvicorn's own
lines included, and a query string's values are redacted in it as in the text format."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from crm.clock import SystemClock
from crm.db import Database
from crm.settings import ConfigurationError, load_settings
from tests.support.live import free_port
from web import log_format, log_redaction
from web.app import create_app
from web.server import web_config

SECRET = "tok-7f3a9c"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger writing JSON lines into a buffer, as `callcentre serve` sets it up."""
    stream = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    handler = log_format.configure(log_format="json", stream=stream)
    logging.config.dictConfig(log_format.UVICORN_TO_ROOT)  # as uvicorn applies it when serving
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.handlers[:] = before[0]
        root.setLevel(before[1])


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_line_is_one_json_object_with_its_fields(json_log: io.StringIO) -> None:
    logging.getLogger("telephony.bridge").warning('坐席 %s 已掉线 "%s"', "1001", "a\nb")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("web.app").exception("failed")
    first, second = lines(json_log)
    assert first["level"] == "WARNING" and first["logger"] == "telephony.bridge"
    assert first["message"] == '坐席 1001 已掉线 "a\nb"'
    assert str(first["time"]).endswith("+00:00")
    assert "ValueError: boom" in str(second["exception"])
    assert len(json_log.getvalue().splitlines()) == 2  # a newline in a message stays inside


def test_query_values_are_redacted_in_any_logger(json_log: io.StringIO) -> None:
    log_redaction.install()
    logging.getLogger("uvicorn.error").warning(
        '%s - "WebSocket %s" 403', "127.0.0.1:5000", f"/ws?token={SECRET}&since=3"
    )
    logging.getLogger("web.anything").warning("fetched %s", f"/api/x?token={SECRET}")
    # An HTTP client logs the URL object it requested (the server's recordings fetch).
    logging.getLogger("httpx").warning(
        "HTTP Request: %s %s", "GET", httpx.URL(f"https://pbx.example/monitor/a.wav?k={SECRET}")
    )
    assert SECRET not in json_log.getvalue()
    messages = [line["message"] for line in lines(json_log)]
    assert messages == [
        '127.0.0.1:5000 - "WebSocket /ws?token=…&since=…" 403',
        "fetched /api/x?token=…",
        "HTTP Request: GET https://pbx.example/monitor/a.wav?k=…",
    ]


async def test_uvicorns_own_lines_are_json_and_redacted(
    json_log: io.StringIO, sqlite_url: str
) -> None:
    """The server as `callcentre serve` runs it: a websocket with a token in its URL is
    refused, and uvicorn's line about it reaches the JSON handler, without the token."""
    settings = load_settings(database_url=sqlite_url, log_format="json")
    database = Database(sqlite_url)
    app = create_app(
        settings,
        database=database,
        with_bridge=False,
        with_transcription=False,
        clock=SystemClock(),
    )
    config = web_config(app, host="127.0.0.1", port=free_port(), log_format="json")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), serving.result()
            await asyncio.sleep(0.02)
        port = config.port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get(f"/healthz?token={SECRET}")).status_code == 200
            handshake = await client.get(
                f"/ws?token={SECRET}",
                headers={
                    "Connection": "Upgrade",
                    "Upgrade": "websocket",
                    "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                },
            )
            assert handshake.status_code == 403
    finally:
        server.should_exit = True
        await serving
        await database.dispose()
    text = json_log.getvalue()
    assert SECRET not in text
    logged = lines(json_log)  # every line parses
    uvicorn_lines = [line for line in logged if str(line["logger"]).startswith("uvicorn")]
    assert any("/ws?token=…" in str(line["message"]) for line in uvicorn_lines), logged


def test_the_format_is_text_or_json() -> None:
    with pytest.raises(ConfigurationError, match="CALLCENTRE_LOG_FORMAT"):
        load_settings(log_format="xml")


def test_the_text_format_is_unchanged(tmp_path: Path) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    before = list(root.handlers)
    handler = log_format.configure(stream=stream)
    try:
        logging.getLogger("web.x").info("opened %s", f"/ws?token={SECRET}")
    finally:
        root.removeHandler(handler)
        root.handlers[:] = before
    assert stream.getvalue().rstrip().endswith("INFO    web.x: opened /ws?token=…")
