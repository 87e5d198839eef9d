"""JSON routes of dense layers: dense forward and backward, and flatten, which feeds them."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

import engine

from ..schemas import (DenseBackwardRequest, DenseBackwardTrace, DenseRequest, DenseTrace, FlattenRequest,
                       FlattenTrace)
from .budget import check_dense
from .tensors import read_tensors
from .traces import ERROR_RESPONSES, PagingQuery, respond

router = APIRouter(tags=["dense"])


def _dense(body: DenseRequest, backward: bool) -> engine.Trace:
    names = ("input", "weight", "bias") + (("grad_output",) if backward else ())
    t = read_tensors({name: getattr(body, name) for name in names})
    check_dense(t["input"].shape, t["weight"].shape, backward)
    if backward:
        return engine.dense_backward(t["input"], t["weight"], t["grad_output"], t["bias"])
    return engine.dense(t["input"], t["weight"], t["bias"])


def _flatten(body: FlattenRequest) -> engine.Trace:
    return engine.flatten(read_tensors({"input": body.input})["input"])


@router.post("/dense", response_model=DenseTrace, responses=ERROR_RESPONSES,
             summary="A dense (fully connected) layer: one step per output neuron")
def dense(body: DenseRequest, page: PagingQuery) -> Response:
    """y_j = Σ_i W_ji x_i + b_j, with W of shape (out, in) as in PyTorch's Linear."""
    return respond(lambda: _dense(body, backward=False), page)


@router.post("/dense/backward", response_model=DenseBackwardTrace, responses=ERROR_RESPONSES,
             summary="A dense layer's gradients: one step per weight, bias and input")
def dense_backward(body: DenseBackwardRequest, page: PagingQuery) -> Response:
    """∂L/∂W = δ xᵀ, ∂L/∂b = δ (summed over a batch), ∂L/∂x = Wᵀδ, from δ = ∂L/∂y."""
    return respond(lambda: _dense(body, backward=True), page)


@router.post("/flatten", response_model=FlattenTrace, responses=ERROR_RESPONSES,
             summary="Flatten a feature map: one step per cell")
def flatten(body: FlattenRequest, page: PagingQuery) -> Response:
    """The cells in one row, row-major over (channel, row, column); a 4-axis input keeps its batch axis."""
    return respond(lambda: _flatten(body), page)
