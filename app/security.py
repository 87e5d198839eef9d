"""Security headers on every response, and the cross-origin setting read at startup.

Every response says ``X-Content-Type-Options: nosniff`` (a download is never run as a page) and
``Referrer-Policy: same-origin`` (a problem in the query string does not travel to other sites).
Every HTML response carries a Content-Security-Policy: scripts and styles come only from this
server, never inline. The interactive docs (Swagger UI, ReDoc) are the one exception: their pages
start Swagger UI with a short inline script and style themselves inline, so their policy allows
exactly that script by its hash, and inline styles.

Cross-origin requests are closed unless ``CNNSTEPS_CORS_ORIGINS`` names the sites that may call the
API from a browser (comma-separated origins, e.g. ``https://course.example``, or ``*`` for any).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CORS_ORIGINS_VARIABLE = "CNNSTEPS_CORS_ORIGINS"

_COMMON = ["default-src 'self'", "img-src 'self' data:", "object-src 'none'", "base-uri 'none'",
           "frame-ancestors 'none'", "form-action 'self'"]

PAGE_POLICY = "; ".join(_COMMON + ["script-src 'self'", "style-src 'self'"])
"""The policy of every page of the app: nothing inline, nothing from another site."""

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_policy(html: bytes) -> str:
    """The policy of a docs page: its own inline scripts by hash, inline styles, workers from blobs (ReDoc)."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
                      for script in _INLINE_SCRIPT.findall(html))
    return "; ".join(_COMMON + [f"script-src 'self' {hashes}".rstrip(), "style-src 'self' 'unsafe-inline'",
                                "worker-src 'self' blob:"])


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response; ``docs_paths`` get the docs policy."""

    def __init__(self, app: ASGIApp, docs_paths: Iterable[str]):
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.docs_paths:
            await self.app(scope, receive, _DocsSend(send))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_headers(message, PAGE_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _DocsSend:
    """Holds a docs page's start message until its body is known, to hash the body's inline scripts."""

    def __init__(self, send: Send):
        self.send = send
        self.start: Message | None = None
        self.body: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] == "http.response.body" and self.start is not None:
            self.body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            start, self.start = self.start, None
            body = b"".join(self.body)
            _add_headers(start, docs_policy(body))
            await self.send(start)
            await self.send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await self.send(message)


def _add_headers(start: Message, policy: str) -> None:
    headers = MutableHeaders(scope=start)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    if headers.get("content-type", "").startswith("text/html"):
        headers["Content-Security-Policy"] = policy


def cors_origins(environ: dict[str, str] | None = None) -> list[str]:
    """The origins ``CNNSTEPS_CORS_ORIGINS`` opens the API to; none when it is unset or empty."""
    value = (os.environ if environ is None else environ).get(CORS_ORIGINS_VARIABLE, "")
    return [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]


def add_security(app, docs_paths: Iterable[str]) -> None:
    """Cross-origin access when configured, then the security headers outside everything else."""
    origins = cors_origins()
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], max_age=600)
    app.add_middleware(SecurityHeaders, docs_paths=docs_paths)
