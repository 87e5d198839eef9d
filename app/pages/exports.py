"""The exports of every walkthrough page: ``/<slug>/export.tex``, ``.md`` and ``.py``.

Each takes the page's own query string (the same problem, read the same way) and answers with a
document to keep: a standalone LaTeX article, the same in Markdown, or a Python script that works
the problem again. A problem the page would refuse is a 422 whose text says why.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response

from engine import EngineError

from ..exports_py import script
from ..exports_text import document, latex, markdown
from .walkthrough import WALKTHROUGHS, Walkthrough, _query

router = APIRouter(include_in_schema=False)


def _tex(w: Walkthrough, q: dict[str, str], page: str) -> str:
    return latex(document(w, w.run(q), page))


def _md(w: Walkthrough, q: dict[str, str], page: str) -> str:
    return markdown(document(w, w.run(q), page))


def _py(w: Walkthrough, q: dict[str, str], page: str) -> str:
    return script(w.run(q), q, page, w.title, filename(w, "py"))


FORMATS: dict[str, tuple[str, str, Callable[[Walkthrough, dict[str, str], str], str]]] = {
    "tex": ("LaTeX", "text/x-tex", _tex),
    "md": ("Markdown", "text/markdown", _md),
    "py": ("Python", "text/x-python", _py),
}
"""Extension -> (name, media type, writer)."""


def filename(w: Walkthrough, ext: str) -> str:
    return f"{w.slug.replace('/', '-')}.{ext}"


def page_url(request: Request, w: Walkthrough, q: dict[str, str]) -> str:
    """The page of this problem, percent-encoded throughout: it is written into LaTeX, Markdown and Python."""
    return quote(f"{str(request.base_url).rstrip('/')}/{w.slug}?{urlencode(q)}", safe=":/?&=%+")


def _refused(message: str, status: int = 422) -> PlainTextResponse:
    return PlainTextResponse(f"This problem cannot be exported: {message}\n", status_code=status)


@router.get("/{slug:path}/export.{ext}", name="export")
async def export(request: Request, slug: str, ext: str) -> Response:
    w = WALKTHROUGHS.get(slug)
    if w is None or ext not in FORMATS:
        kinds = ", ".join(f"export.{e}" for e in FORMATS)
        return _refused(f"/{slug}/export.{ext} is not an export; each walkthrough page has {kinds}", 404)
    _, media, write = FORMATS[ext]
    try:
        q = _query(w, request)
        body = write(w, q, page_url(request, w, q))
    except EngineError as e:
        return _refused(f"{e.argument}: {e.problem}" if e.argument else e.problem)
    except RequestValidationError as e:   # a size budget of app.limits
        problem = e.errors()[0]
        return _refused(f"{problem['loc'][-1]}: {problem['msg']}")
    except (ValueError, TypeError, KeyError, MemoryError, ArithmeticError) as e:
        return _refused(str(e))
    return Response(body, media_type=media, headers={"Content-Disposition": f'inline; filename="{filename(w, ext)}"'})
