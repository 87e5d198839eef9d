"""JSON route that checks a student's answer: POST /api/v1/check.

The problem is read exactly as its op's own route reads it (the same request model, tensor checks
and budgets), with every error moved under ``['body', 'problem', ...]``; the answer is then checked
by ``engine.check_answer`` against that trace.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

import engine

from .. import schemas
from . import activations, conv, dense, dropout, losses, norm, optim, pool, shapes
from .tensors import invalid
from .traces import ERROR_RESPONSES

log = logging.getLogger("cnnsteps.api")
router = APIRouter(tags=["check"])

# Each op's request model and the function its route computes the trace with.
ROUTES: dict[str, tuple[type[BaseModel], Callable[[Any], engine.Trace]]] = {
    "conv2d": (schemas.Conv2dRequest, lambda b: conv._run(engine.conv2d, b, one_d=False, backward=False)),
    "conv2d/backward": (schemas.Conv2dBackwardRequest,
                        lambda b: conv._run(engine.conv2d_backward, b, one_d=False, backward=True)),
    "conv1d": (schemas.Conv1dRequest, lambda b: conv._run(engine.conv1d, b, one_d=True, backward=False)),
    "conv1d/backward": (schemas.Conv1dBackwardRequest,
                        lambda b: conv._run(engine.conv1d_backward, b, one_d=True, backward=True)),
    "pool2d": (schemas.Pool2dRequest, pool._pool),
    "pool2d/backward": (schemas.Pool2dBackwardRequest, pool._pool_backward),
    "im2col": (schemas.Im2colRequest, shapes._im2col),
    "output-size": (schemas.OutputSizeRequest, shapes._output_size),
    "activation": (schemas.ActivationRequest, lambda b: activations._run(b, backward=False)),
    "activation/backward": (schemas.ActivationBackwardRequest, lambda b: activations._run(b, backward=True)),
    "dense": (schemas.DenseRequest, lambda b: dense._dense(b, backward=False)),
    "dense/backward": (schemas.DenseBackwardRequest, lambda b: dense._dense(b, backward=True)),
    "flatten": (schemas.FlattenRequest, dense._flatten),
    "loss": (schemas.LossRequest, losses._loss),
    "optimizer": (schemas.OptimizerRequest, optim._update),
    "batchnorm": (schemas.BatchnormRequest, norm._batchnorm),
    "batchnorm/backward": (schemas.BatchnormBackwardRequest, norm._batchnorm_backward),
    "dropout": (schemas.DropoutRequest, dropout._dropout),
}

PROBLEM = ("body", "problem")
CHECK_ERRORS = {status: answer for status, answer in ERROR_RESPONSES.items() if status != 404}


def _under_problem(errors: list[dict[str, Any]]) -> RequestValidationError:
    """The op route's errors, whose locs start at ['body', field], moved to ['body', 'problem', field]."""
    return RequestValidationError([{**e, "loc": PROBLEM + tuple(e["loc"])[1:]} for e in errors])


def _engine_refusal(error: engine.EngineError, answer_side: bool) -> RequestValidationError:
    if answer_side and error.argument in ("answer", "output", "cell"):
        loc: tuple = ("body", error.argument)
    else:
        loc = PROBLEM + (error.argument,)
    return invalid(loc + tuple(error.location or ()), error.problem, "value_error")


def _trace(body: schemas.CheckRequest) -> tuple[BaseModel, engine.Trace]:
    model, compute = ROUTES[body.op]
    try:
        problem = model.model_validate(body.problem)
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": PROBLEM + tuple(e["loc"])}
                                      for e in error.errors(include_url=False)]) from None
    try:
        return problem, compute(problem)
    except RequestValidationError as error:
        raise _under_problem(list(error.errors())) from None
    except engine.EngineError as error:
        raise _engine_refusal(error, answer_side=False) from None


@router.post("/check", response_model=schemas.CheckResponse, responses=CHECK_ERRORS,
             summary="Check an answer: the wrong cells, and the usual mistake that explains them")
def check(body: schemas.CheckRequest) -> JSONResponse:
    """Works the problem as its op's route does, compares the answer cell by cell, and names the usual
    mistake (kernel flipped, bias forgotten, stride misread, ...) that reproduces a wrong answer. Right and
    wrong answers are both a 200; a malformed answer (ragged, of a shape nothing explains, NaN) is a 422
    at ['body', 'answer', ...]."""
    problem, trace = _trace(body)
    try:
        result = engine.check_answer(body.op, problem.model_dump(exclude_none=True), body.answer,
                                     output=body.output, cell=body.cell, trace=trace)
    except engine.EngineError as error:
        raise _engine_refusal(error, answer_side=True) from None
    except (RequestValidationError, HTTPException):
        raise
    except Exception as error:  # an engine bug must not reach the caller as a 500
        log.exception("the engine failed to check an answer")
        raise invalid(("body",), f"the engine could not check this answer ({type(error).__name__}); please "
                                 "report it with the body you sent", "engine_failure") from None
    return JSONResponse(_finite(result.as_dict()))


def _finite(value: Any) -> Any:
    """JSON cannot carry NaN or infinity: an overflowed cell the student wrote is sent as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
