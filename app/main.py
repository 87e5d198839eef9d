"""Assembles the app: static files, the JSON API routers, the pages, the error handlers."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from engine import EngineError

from .api import router as api_router
from .api.body_limit import BodyLimit
from .api.errors import validation_error
from .limits import MAX_BODY_BYTES, MAX_QUERY_CHARS
from .pages import router as pages_router
from .resources import folder
from .security import add_security

DOCS_PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")

app = FastAPIOffline(
    docs_url=DOCS_PAGES[0],
    redoc_url=DOCS_PAGES[1],
    swagger_ui_oauth2_redirect_url=DOCS_PAGES[2],
    title="cnnsteps",
    version="1.0",
    description="Step-by-step mathematics of convolutional neural networks: every op returns its trace.",
)
app.mount("/static", StaticFiles(directory=folder("static")), name="static")
app.include_router(api_router)
app.include_router(pages_router)
app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, max_query=MAX_QUERY_CHARS)
add_security(app, docs_paths=DOCS_PAGES)
app.add_exception_handler(RequestValidationError, validation_error)


@app.exception_handler(EngineError)
async def engine_error(request: Request, error: EngineError) -> JSONResponse:
    """The engine's own check, as FastAPI's standard 422 detail list naming the field."""
    loc: list = ["body", error.argument]
    if error.location:
        loc += list(error.location)
    return JSONResponse(status_code=422, content={"detail": [{"loc": loc, "msg": error.problem,
                                                              "type": "value_error"}]})
