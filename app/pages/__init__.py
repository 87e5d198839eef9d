"""The HTML pages: the home page and one walkthrough per op."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..render import templates
from . import layers  # noqa: F401  (registers the layer pages before the routes are included)
from .architecture import router as architecture_router
from .examples import router as examples_router
from .exports import router as exports_router
from .network import router as network_router
from .practice import router as practice_router
from .walkthrough import WALKTHROUGHS
from .walkthrough import router as walkthrough_router

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    return HTMLResponse(templates.get_template("home.html").render(walkthroughs=WALKTHROUGHS, present=False))


router.include_router(walkthrough_router)
router.include_router(network_router)
router.include_router(architecture_router)
router.include_router(exports_router)
router.include_router(examples_router)
router.include_router(practice_router)
