"""JSON route of the optimizers: SGD, SGD with momentum and Adam, one update per request.

A run of updates is a chain of requests: each response's ``outputs.state`` is the next request's
``state``. The state is checked here against the rule the request asks for (which buffers it
holds, for which parameters, in which shapes), so that a wrong one is refused at the field that
is wrong: ``['body', 'state', 'velocity', 'w']``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

import engine
from engine.optim import BUFFERS, RULE_NAMES

from ..schemas import OptimizerRequest, OptimizerTrace
from .budget import check_parameters
from .tensors import read_tensors
from .traces import ERROR_RESPONSES, PagingQuery, respond

router = APIRouter(tags=["optimizers"])

Loc = tuple[str | int, ...]


def _problem(loc: Loc, msg: str, kind: str) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": msg}


def _rule(body: OptimizerRequest) -> str:
    """The rule the engine applies: 'sgd' with a momentum above 0 is the momentum rule (torch.optim.SGD)."""
    return "momentum" if body.kind == "sgd" and body.momentum > 0 else body.kind


def _listed(names: tuple[str, ...]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _buffer_problems(body: OptimizerRequest) -> list[dict[str, Any]]:
    """The state's buffers against the rule's: a missing one, or one the rule does not keep."""
    if body.state is None:
        return []
    rule = _rule(body)
    holds = f"{RULE_NAMES[rule]}'s state holds {_listed(('step',) + BUFFERS[rule])}"
    problems = []
    for buffer in ("velocity", "m", "v"):
        given = getattr(body.state, buffer) is not None
        if buffer in BUFFERS[rule] and not given:
            problems.append(_problem(("body", "state", buffer), f"is missing: {holds}; pass back the state "
                                                                "the previous update returned", "missing"))
        elif given and buffer not in BUFFERS[rule]:
            problems.append(_problem(("body", "state", buffer), f"is not part of the state here: {holds}",
                                     "extra_forbidden"))
    return problems


def _read(values: dict[str, Any], loc: Loc, problems: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Each named tensor as float64; a bad cell is reported at loc + (name, row, column)."""
    try:
        return read_tensors(values)  # type: ignore[return-value]
    except RequestValidationError as error:
        problems.extend(_problem(loc + tuple(e["loc"][1:]), e["msg"], e["type"]) for e in error.errors())
        return {}


def _shape(shape: tuple[int, ...]) -> str:
    return "a single number" if not shape else f"shape ({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''})"


def _match(arrays: dict[str, np.ndarray], params: dict[str, np.ndarray], loc: Loc, what: str) -> list[dict[str, Any]]:
    """Where ``arrays`` do not have the parameters' names and shapes."""
    problems = [_problem(loc + (name,), f"no {what} for the parameter '{name}'", "missing")
                for name in params if name not in arrays]
    for name, array in arrays.items():
        if name not in params:
            problems.append(_problem(loc + (name,), f"'{name}' is not one of the parameters ({_listed(tuple(params))})",
                                     "unknown_parameter"))
        elif array.shape != params[name].shape:
            problems.append(_problem(loc + (name,), f"has {_shape(array.shape)}, but the parameter '{name}' has "
                                                    f"{_shape(params[name].shape)}", "shape"))
    return problems


def _update(body: OptimizerRequest) -> engine.Trace:
    problems = _buffer_problems(body)
    params = _read(body.params, ("body", "params"), problems)
    grads = _read(body.grads, ("body", "grads"), problems)
    buffers = {}
    if body.state is not None:
        for buffer in BUFFERS[_rule(body)]:
            values = getattr(body.state, buffer)
            if values is not None:
                buffers[buffer] = _read(values, ("body", "state", buffer), problems)
    if problems:
        raise RequestValidationError(problems)
    problems = _match(grads, params, ("body", "grads"), "gradient")
    for buffer, arrays in buffers.items():
        problems += _match(arrays, params, ("body", "state", buffer), f"'{buffer}'")
    if problems:
        raise RequestValidationError(problems)
    check_parameters({name: array.size for name, array in params.items()})
    state = None if body.state is None else {"step": body.state.step, **buffers}
    return engine.optimizer_step(params, grads, kind=body.kind, lr=body.lr, momentum=body.momentum,
                                 betas=body.betas, eps=body.eps, weight_decay=body.weight_decay, state=state)


@router.post("/optimizer", response_model=OptimizerTrace, responses=ERROR_RESPONSES,
             summary="One optimizer update: one step per parameter cell (and per buffer cell)")
def optimizer(body: OptimizerRequest, page: PagingQuery) -> Response:
    """sgd: w ← w − η g. momentum: v ← μv + g, w ← w − η v. adam: bias-corrected running means of g
    and g², w ← w − η m̂/(√v̂ + ε). Pass `outputs.state` back as `state` to take the next update."""
    return respond(lambda: _update(body), page)
