"""deploy/nginx/callcentre.conf: `nginx -t` accepts it, and a session through it works — TLS
(a self-signed certificate made here), http sent to https, the websocket upgraded (the
server's same-origin check passing through), bodies over CALLCENTRE_MAX_BODY_BYTES refused
before they reach the server, and the client's own address, not the proxy's nor a forged
one, reaching the audit log through CALLCENTRE_TRUSTED_PROXIES."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import signal
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets
from websockets.typing import Origin

from crm.audit import service as audit
from crm.db import Database
from crm.settings import Settings, load_settings
from tests.support.api import PASSWORD, running_app
from tests.support.live import free_port
from tests.support.tools import need
from web.auth import COOKIE
from web.server import web_config

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "nginx" / "callcentre.conf"
CERTIFICATE = "/etc/ssl/callcentre/fullchain.pem"
KEY = "/etc/ssl/callcentre/privkey.pem"
SIZES = {"k": 1024, "m": 1024 * 1024, "g": 1024 * 1024 * 1024}
CLIENT = "127.0.0.2"  # the browser's address, as the proxy sees it


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key)."""
    openssl = need("openssl", "openssl")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"the example no longer has {old!r}: update this test's rendering"
    return text.replace(old, new)


def render(
    certificate: tuple[Path, Path], *, http: int | None = None, https: int | None = None,
    upstream: int | None = None,
) -> str:  # fmt: skip
    """The example with this machine's certificate (and, to run it, its ports): nothing else
    changed."""
    cert, key = certificate
    text = EXAMPLE.read_text(encoding="utf-8")
    text = _replace(text, CERTIFICATE, str(cert))
    text = _replace(text, KEY, str(key))
    if https is not None:
        text = _replace(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;")
        text = _replace(text, "listen [::]:443 ssl http2;", "")
        text = _replace(text, "listen 80;", f"listen 127.0.0.1:{http};")
        text = _replace(text, "listen [::]:80;", "")
        # The redirect names the https port the test listens on.
        text = _replace(text, "https://$host$request_uri", f"https://$host:{https}$request_uri")
    if upstream is not None:
        text = re.sub(r"server 127\.0\.0\.1:\d+ ", f"server 127.0.0.1:{upstream} ", text)
    return text


def nginx_conf(root: Path, site: str) -> Path:
    """A main configuration around the site, everything under `root` (no root needed)."""
    (root / "site.conf").write_text(site, encoding="utf-8")
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / temp).mkdir(exist_ok=True)
    user = f"user {pwd.getpwuid(os.getuid()).pw_name};" if os.geteuid() == 0 else ""
    main = root / "nginx.conf"
    main.write_text(
        f"""{user}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include {root}/site.conf;
}}
""",
        encoding="utf-8",
    )
    return main


def test_nginx_accepts_the_example(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    nginx = need("nginx", "nginx")
    main = nginx_conf(tmp_path, render(certificate))
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_body_limit_is_the_servers() -> None:
    size = re.search(r"^\s*client_max_body_size (\d+)([kmg]?);", EXAMPLE.read_text("utf-8"), re.M)
    assert size, "client_max_body_size is set"
    limit = int(size[1]) * SIZES.get(size[2], 1)
    assert limit == Settings.model_fields["max_body_bytes"].default
    env_example = (ROOT / "deploy" / "callcentre.env.example").read_text(encoding="utf-8")
    assert f"CALLCENTRE_MAX_BODY_BYTES={limit}" in env_example
    # The spreadsheet upload's own location and limit, the server's too.
    upload = re.search(
        r"location = /api/imports \{[^}]*client_max_body_size (\d+)([kmg]?);",
        EXAMPLE.read_text("utf-8"),
    )
    assert upload, "the upload location sets its own client_max_body_size"
    upload_limit = int(upload[1]) * SIZES.get(upload[2], 1)
    assert upload_limit == Settings.model_fields["max_import_bytes"].default
    assert f"CALLCENTRE_MAX_IMPORT_BYTES={upload_limit}" in env_example


def test_every_location_passes_the_clients_address_and_host() -> None:
    """A location with its own proxy_set_header inherits none of the server's: each one
    that proxies must set them all."""
    text = EXAMPLE.read_text(encoding="utf-8")
    locations = re.findall(r"location [^{]+\{(.*?)\n    \}", text, re.S)
    proxied = [body for body in locations if "proxy_pass" in body]
    assert len(proxied) >= 2
    for body in proxied:
        for header in (
            "proxy_set_header Host $http_host;",
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
        ):
            assert header in body, body


@pytest.fixture
async def through_nginx(
    certificate: tuple[Path, Path], tmp_path: Path, sqlite_url: str
) -> AsyncIterator[tuple[str, int, Database]]:
    """The server (as `callcentre serve --role web` runs it, trusting 127.0.0.1) behind the
    example: the https URL, the http port, the database."""
    nginx = need("nginx", "nginx")
    settings = load_settings(database_url=sqlite_url, trusted_proxies="127.0.0.1")
    database = Database(sqlite_url)
    async with running_app(settings, database) as api:
        config = web_config(api.app, host="127.0.0.1", port=free_port(), lifespan="off")
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            assert not serving.done(), serving.result()
            await asyncio.sleep(0.02)
        http, https = free_port(), free_port()
        site = render(certificate, http=http, https=https, upstream=config.port)
        main = nginx_conf(tmp_path, site)
        proxy = subprocess.Popen(
            [nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            while not listening(https):
                assert proxy.poll() is None, (tmp_path / "error.log").read_text()
                await asyncio.sleep(0.05)
            yield f"https://127.0.0.1:{https}", http, database
        finally:
            os.killpg(proxy.pid, signal.SIGQUIT)
            proxy.wait(15)
            server.should_exit = True
            await serving
    await database.dispose()


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


async def test_a_session_through_the_proxy(
    through_nginx: tuple[str, int, Database], certificate: tuple[Path, Path]
) -> None:
    url, http, database = through_nginx
    context = tls(certificate)
    async with httpx.AsyncClient(verify=context, timeout=10) as plain:
        moved = await plain.get(f"http://127.0.0.1:{http}/login")
        assert moved.status_code == 301
        assert moved.headers["location"].startswith(f"{url}/login")
    client = httpx.AsyncClient(
        base_url=url,
        timeout=10,
        transport=httpx.AsyncHTTPTransport(verify=context, local_address=CLIENT),
    )
    async with client:
        health = await client.get("/healthz")
        assert health.status_code == 200
        assert "strict-transport-security" in health.headers  # the server saw https
        assert (await client.get("/metrics")).status_code == 404  # scraped directly only

        refused = await client.post(
            "/api/auth/login",
            json={"username": "agent1", "password": "wrong"},
            headers={"X-Forwarded-For": "6.6.6.6"},  # forged by the client: ignored
        )
        assert refused.status_code == 401
        async with database.session() as session:
            (entry,) = await audit.get_all(session, action="login_failed")
        assert entry.ip == CLIENT

        too_big = await client.post(
            "/api/auth/login",
            content=b"x" * (Settings.model_fields["max_body_bytes"].default + 1),
            headers={"Content-Type": "application/json"},
        )
        assert too_big.status_code == 413
        assert too_big.headers["content-type"].startswith("text/html")  # nginx's, not ours

        login = await client.post(
            "/api/auth/login", json={"username": "agent1", "password": PASSWORD}
        )
        assert login.status_code == 200
        cookie = client.cookies[COOKIE]

    async with websockets.connect(
        url.replace("https://", "wss://") + "/ws",
        ssl=context,
        origin=Origin(url),
        additional_headers={"Cookie": f"{COOKIE}={cookie}"},
    ) as socket:
        hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert hello["type"] == "hello" and hello["user"]["username"] == "agent1"
