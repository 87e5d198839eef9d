"""JSON route for practice problems: GET /api/v1/practice/{op}.

The op is the rest of the path, slash and all (``/api/v1/practice/conv2d/backward``; ``%2F`` works
too). The problem comes from ``engine.practice``, which works it with the op itself, so the answer key
is what the op's own route answers for the same body.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

import engine

from .. import schemas
from ..limits import MAX_SEED
from .tensors import invalid
from .traces import ERROR_RESPONSES

log = logging.getLogger("cnnsteps.api")
router = APIRouter(tags=["practice"])

PRACTICE_ERRORS = {status: answer for status, answer in ERROR_RESPONSES.items() if status in (414, 422)}
PRACTICE_ERRORS[404] = {"model": schemas.MessageResponse, "description": "The path names no op at all (a line break in "
                                                                  "it, say): FastAPI's plain 'Not Found'."}
"""No body, so no 400 or 413; an op the path pattern cannot match is a 404."""


@router.get("/practice/{op:path}", response_model=schemas.PracticeResponse, responses=PRACTICE_ERRORS,
            summary="A practice problem small enough to work by hand, with its answer key")
def practice(
    op: Annotated[schemas.PracticeOp, Path(description=(
        "The op, named as its route; an op with a slash is written with it: `conv2d/backward`."))],
    seed: Annotated[int | None, Query(ge=0, le=MAX_SEED, description=(
        "The same seed and difficulty give the same problem. Leave out to draw one; it comes back in `seed`."))] = None,
    difficulty: Annotated[schemas.Difficulty, Query(description=(
        "easy: whole numbers from −3 to 5; medium: one decimal; hard: a stride, padding, bias, a second "
        "channel or sample, or the op's hardest variant."))] = "easy",
) -> JSONResponse:
    """The problem is the op's own request body: POST it to `/api/v1/<op>` for every step, or send it with
    a student's answer to `/api/v1/check`. `answer` is the value of `output` (the output `/api/v1/check`
    checks by default)."""
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    try:
        problem = engine.practice(op, seed=seed, difficulty=difficulty)
    except engine.EngineError as error:
        raise invalid(("query", error.argument), error.problem, "value_error") from None
    except Exception as error:  # an engine bug must not reach the caller as a 500
        log.exception("the engine failed to draw a practice problem")
        raise invalid(("path", "op"), f"the engine could not draw this problem ({type(error).__name__}); please "
                                      "report the op, seed and difficulty", "engine_failure") from None
    return JSONResponse(problem)
