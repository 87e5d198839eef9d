"""Fixtures shared by the app's tests: a TestClient over the app, and the JSON API called by op name."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import app


@pytest.fixture(scope="session")
def client() -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


class Api:
    """POST /api/v1/<op> and read the answer or the refusal."""

    def __init__(self, client: TestClient):
        self.client = client

    def post(self, op: str, body: Any, **query: Any) -> httpx.Response:
        return self.client.post(f"/api/v1/{op}", json=body, params=query)

    def ok(self, op: str, body: Any, **query: Any) -> dict[str, Any]:
        response = self.post(op, body, **query)
        assert response.status_code == 200, response.text
        return response.json()

    def refused(self, op: str, body: Any, status: int = 422, **query: Any) -> list[dict[str, Any]]:
        """The ``detail`` items of a refusal with ``status``."""
        response = self.post(op, body, **query)
        assert response.status_code == status, response.text
        assert "Traceback" not in response.text
        return response.json()["detail"]

    def locs(self, op: str, body: Any, status: int = 422, **query: Any) -> list[list[Any]]:
        return [item["loc"] for item in self.refused(op, body, status, **query)]


@pytest.fixture()
def api(client: TestClient) -> Api:
    return Api(client)


class AsgiAnswer:
    """What the app sent back for one raw ASGI request, and how many body messages it read."""

    def __init__(self):
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.reads = 0


@pytest.fixture()
def asgi():
    """Call the app as a server would, with a raw path (percent-decoded, dot segments kept) and a body sent
    in ``chunk``-sized messages, ``size`` bytes in all; no Content-Length unless ``length`` is given."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import unquote

    def call(method: str, raw: str, *, size: int = 0, chunk: int = 65536, length: int | None = None,
             query: bytes = b"", headers: list[tuple[bytes, bytes]] = ()) -> AsgiAnswer:
        answer = AsgiAnswer()
        sent = 0

        async def receive():
            nonlocal sent
            answer.reads += 1
            if sent >= size and answer.reads > 1:
                return {"type": "http.disconnect"}
            piece = min(chunk, size - sent)
            sent += piece
            return {"type": "http.request", "body": b"1" * piece, "more_body": sent < size}

        async def send(message):
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                answer.body += message.get("body", b"")

        all_headers = [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers]
        if length is not None:
            all_headers.append((b"content-length", str(length).encode()))
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": unquote(raw), "raw_path": raw.encode(), "query_string": query,
                 "root_path": "", "headers": all_headers, "server": ("testserver", 80), "client": ("127.0.0.1", 1)}
        # In a thread of its own: a session's Playwright may hold an event loop in this one.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, app(scope, receive, send)).result()
        return answer

    return call


@pytest.fixture(scope="session")
def live_server():
    """The app served by uvicorn in a background thread on a free loopback port: (host, port)."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield sock.getsockname()
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
