"""413 for a request body over the limit, before any of it is parsed; 414 for a query string over its limit.

A declared Content-Length over the limit is refused without reading the body. Any other body
(chunked, or with a Content-Length that understates it) is counted as it arrives and refused as
soon as it passes the limit; otherwise the bytes read are handed on to the app unchanged.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large(msg: str) -> JSONResponse:
    return JSONResponse(status_code=413, content={"detail": [{"loc": ["body"], "type": "too_large", "msg": msg}]})


def query_too_long(msg: str) -> JSONResponse:
    return JSONResponse(status_code=414, content={"detail": [{"loc": ["query"], "type": "too_long", "msg": msg}]})


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413, query strings over ``max_query`` with 414."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_query: int):
        self.app = app
        self.max_bytes = max_bytes
        self.max_query = max_query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = len(scope.get("query_string", b""))
        if query > self.max_query:
            await query_too_long(f"the query string is {query:,} characters; the limit is {self.max_query:,}")(
                scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            await too_large(f"the body is {int(declared):,} bytes; the limit is {self.max_bytes:,}")(
                scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await too_large(f"the body is over the limit of {self.max_bytes:,} bytes")(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
