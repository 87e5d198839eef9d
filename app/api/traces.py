"""A trace as the API's answer: paging, one step by id, and the guarantee of no 500.

Every route hands ``respond`` a function that reads the body and calls the engine. Whatever it
raises that is not a known refusal (an engine bug, say) becomes a 422 of type
``engine_failure``, logged on the server with its traceback and never sent to the caller.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from engine import EngineError, Trace

from ..limits import DEFAULT_STEP_LIMIT, MAX_BODY_BYTES, MAX_QUERY_CHARS, MAX_RESPONSE_TERMS, MAX_STEP_LIMIT
from ..schemas import ErrorResponse, MessageResponse
from .tensors import invalid

log = logging.getLogger("cnnsteps.api")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": MessageResponse, "description": "The body is not JSON this server can read "
                                                 "(nested too deeply, or an integer of thousands of digits)."},
    404: {"model": ErrorResponse, "description": "No step has the `step_id` asked for; "
                                                 "`detail[0].loc` is `['query', 'step_id']`."},
    413: {"model": ErrorResponse, "description": f"The body is over {MAX_BODY_BYTES:,} bytes; refused "
                                                 "before it is parsed."},
    414: {"model": ErrorResponse, "description": f"The query string is over {MAX_QUERY_CHARS:,} characters."},
    422: {"model": ErrorResponse, "description": "A field is missing, unknown or wrong: each `detail` item's "
                                                 "`loc` names it, down to the cell (`['body', 'input', 1, 2]`)."},
}


@dataclass(frozen=True)
class Paging:
    step_offset: int
    step_limit: int
    step_id: str | None


def paging(
    step_offset: Annotated[int, Query(ge=0, description="Position of the first step to return.")] = 0,
    step_limit: Annotated[int, Query(ge=1, le=MAX_STEP_LIMIT, description=(
        f"Steps to return, at most {MAX_STEP_LIMIT}. A page also ends early when its steps would hold more "
        f"than {MAX_RESPONSE_TERMS:,} terms (at least one step is always returned): "
        "continue from `next_step_offset`."))] = DEFAULT_STEP_LIMIT,
    step_id: Annotated[str | None, Query(max_length=200, description=(
        "Return only the step with this id (e.g. `output[0,1]`); the paging parameters are then ignored. "
        "An id the trace does not have is a 404."), examples=["output[0,1]"])] = None,
) -> Paging:
    return Paging(step_offset, step_limit, step_id)


PagingQuery = Annotated[Paging, Depends(paging)]


def respond(compute: Callable[[], Trace], page: Paging) -> Response:
    """The trace ``compute`` returns, with the page of steps asked for, as JSON."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, as a 422
            trace = compute()
            content = _page(trace, page)
    except (EngineError, RequestValidationError, HTTPException):
        raise
    except Exception as error:  # an engine bug must not reach the caller as a 500
        log.exception("the engine failed on an API request")
        raise _engine_failure(error) from None
    try:
        text = json.dumps(content, allow_nan=False, separators=(",", ":"), default=_number)
    except ValueError:  # NaN or infinity: the numbers overflowed float64
        raise invalid(("body",), "the result is beyond float64's range (about 1.8e308): use smaller numbers",
                      "overflow") from None
    except TypeError as error:
        log.exception("a trace held a value JSON cannot carry")
        raise _engine_failure(error) from None
    return Response(text, media_type="application/json")


def _engine_failure(error: Exception) -> RequestValidationError:
    return invalid(("body",), f"the engine could not compute this request ({type(error).__name__}); "
                              "please report it with the body you sent", "engine_failure")


def _page(trace: Trace, page: Paging) -> dict[str, Any]:
    steps = trace.steps
    count = len(steps)
    if page.step_id is not None:
        try:
            position = steps.position(page.step_id)
        except ValueError:  # an id shaped like 'output[,]' trips the engine's parser
            position = None
        if position is None:
            example = f" (the first is {steps[0].id!r})" if count else ""
            raise HTTPException(404, detail=[{
                "loc": ["query", "step_id"], "type": "step_not_found",
                "msg": f"this trace has no step {page.step_id!r}{example}"}])
        start, chosen = position, [steps[position].as_dict()]
    else:
        start, chosen, terms = page.step_offset, [], 0
        for i in range(start, min(count, start + page.step_limit)):
            step = steps[i]
            size = _terms(step)
            if chosen and terms + size > MAX_RESPONSE_TERMS:
                break
            chosen.append(step.as_dict())
            terms += size
    content = trace.as_dict(0, 0)
    content["steps"] = chosen
    content["step_offset"] = start
    following = start + len(chosen)
    content["next_step_offset"] = following if following < count else None
    return content


def _terms(step) -> int:
    return len(step.terms) + sum(_terms(s) for s in step.substeps)


def _number(value: Any) -> Any:
    """NumPy scalars and arrays that slipped into a trace, as JSON."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")
