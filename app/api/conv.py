"""JSON routes of the convolution family: conv2d and conv1d, forward and backward."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

import engine

from ..schemas import (Conv1dBackwardRequest, Conv1dRequest, Conv2dBackwardRequest, Conv2dRequest,
                       ConvBackwardTrace, ConvTrace)
from .budget import check_conv
from .tensors import read_tensors
from .traces import ERROR_RESPONSES, PagingQuery, respond

router = APIRouter(tags=["convolution"])


def _run(op, body: Conv2dRequest | Conv1dRequest, one_d: bool, backward: bool) -> engine.Trace:
    names = ("input", "kernel", "bias") + (("grad_output",) if backward else ())
    t = read_tensors({name: getattr(body, name) for name in names})
    check_conv(t["input"].shape, t["kernel"].shape, body.stride, body.padding, body.dilation, one_d)
    options = dict(stride=body.stride, padding=body.padding, dilation=body.dilation, groups=body.groups,
                   mode=body.mode)
    if backward:
        return op(t["input"], t["kernel"], t["grad_output"], t["bias"], **options)
    return op(t["input"], t["kernel"], t["bias"], **options)


@router.post("/conv2d", response_model=ConvTrace, responses=ERROR_RESPONSES,
             summary="2-D convolution: one step per output cell")
def conv2d(body: Conv2dRequest, page: PagingQuery) -> Response:
    """z = x ⋆ k + b, each output cell written out as its multiply-adds."""
    return respond(lambda: _run(engine.conv2d, body, one_d=False, backward=False), page)


@router.post("/conv2d/backward", response_model=ConvBackwardTrace, responses=ERROR_RESPONSES,
             summary="2-D convolution's gradients: one step per gradient cell")
def conv2d_backward(body: Conv2dBackwardRequest, page: PagingQuery) -> Response:
    """∂L/∂x, ∂L/∂k (and ∂L/∂b with a bias) from δ = ∂L/∂z."""
    return respond(lambda: _run(engine.conv2d_backward, body, one_d=False, backward=True), page)


@router.post("/conv1d", response_model=ConvTrace, responses=ERROR_RESPONSES,
             summary="1-D convolution: one step per output cell")
def conv1d(body: Conv1dRequest, page: PagingQuery) -> Response:
    """A convolution along a sequence."""
    return respond(lambda: _run(engine.conv1d, body, one_d=True, backward=False), page)


@router.post("/conv1d/backward", response_model=ConvBackwardTrace, responses=ERROR_RESPONSES,
             summary="1-D convolution's gradients: one step per gradient cell")
def conv1d_backward(body: Conv1dBackwardRequest, page: PagingQuery) -> Response:
    """∂L/∂x, ∂L/∂k (and ∂L/∂b with a bias) from δ = ∂L/∂z, along a sequence."""
    return respond(lambda: _run(engine.conv1d_backward, body, one_d=True, backward=True), page)
