"""JSON routes of the activation family: ReLU, LeakyReLU, ReLU6, sigmoid, tanh and softmax, forward
and backward."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

import engine

from ..schemas import ActivationBackwardRequest, ActivationBackwardTrace, ActivationRequest, ActivationTrace
from .budget import check_activation
from .tensors import read_tensors
from .traces import ERROR_RESPONSES, PagingQuery, respond

router = APIRouter(tags=["activations"])


def _run(body: ActivationRequest, backward: bool) -> engine.Trace:
    names = ("input",) + (("grad_output",) if backward else ())
    t = read_tensors({name: getattr(body, name) for name in names})
    check_activation(t["input"].shape, body.function, body.dim, backward)
    options = dict(function=body.function, alpha=body.alpha, dim=body.dim)
    if backward:
        return engine.activation_backward(t["input"], t["grad_output"], **options)
    return engine.activation(t["input"], **options)


@router.post("/activation", response_model=ActivationTrace, responses=ERROR_RESPONSES,
             summary="An activation function: one step per cell (softmax: the row's max, exponentials, sum)")
def activation(body: ActivationRequest, page: PagingQuery) -> Response:
    """y = f(x) cell by cell; softmax p_i = e^(z_i − m) / Σ_j e^(z_j − m) along `dim`, m the row's maximum."""
    return respond(lambda: _run(body, backward=False), page)


@router.post("/activation/backward", response_model=ActivationBackwardTrace, responses=ERROR_RESPONSES,
             summary="An activation's input gradient: one step per cell (softmax: its Jacobian first)")
def activation_backward(body: ActivationBackwardRequest, page: PagingQuery) -> Response:
    """∂L/∂x = δ · f'(x) cell by cell; softmax ∂L/∂z_i = Σ_j J_ji δ_j = p_i(δ_i − Σ_j δ_j p_j)."""
    return respond(lambda: _run(body, backward=True), page)
