"""JSON routes of the pooling family: pool2d forward and backward."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

import engine

from ..schemas import Pool2dBackwardRequest, Pool2dRequest, PoolBackwardTrace, PoolTrace
from .budget import check_pool
from .tensors import read_tensors
from .traces import ERROR_RESPONSES, PagingQuery, respond

router = APIRouter(tags=["pooling"])


def _options(body: Pool2dRequest) -> dict:
    return dict(kind=body.kind, kernel_size=body.kernel_size, stride=body.stride, padding=body.padding,
                ceil_mode=body.ceil_mode, count_include_pad=body.count_include_pad)


def _pool(body: Pool2dRequest) -> engine.Trace:
    t = read_tensors({"input": body.input})
    check_pool(t["input"].shape, body.kernel_size, body.stride, body.padding, body.ceil_mode)
    return engine.pool2d(t["input"], **_options(body))


def _pool_backward(body: Pool2dBackwardRequest) -> engine.Trace:
    t = read_tensors({"input": body.input, "grad_output": body.grad_output})
    check_pool(t["input"].shape, body.kernel_size, body.stride, body.padding, body.ceil_mode)
    return engine.pool2d_backward(t["input"], t["grad_output"], **_options(body))


@router.post("/pool2d", response_model=PoolTrace, responses=ERROR_RESPONSES,
             summary="2-D max, average or min pooling: one step per output cell")
def pool2d(body: Pool2dRequest, page: PagingQuery) -> Response:
    """Each window's max, average or min. Padded cells never win a max or a min; ties go to the
    first cell in row-major order."""
    return respond(lambda: _pool(body), page)


@router.post("/pool2d/backward", response_model=PoolBackwardTrace, responses=ERROR_RESPONSES,
             summary="2-D pooling's input gradient: one step per input cell")
def pool2d_backward(body: Pool2dBackwardRequest, page: PagingQuery) -> Response:
    """∂L/∂x from δ = ∂L/∂z: max and min send each window's δ to its winner, average spreads it."""
    return respond(lambda: _pool_backward(body), page)
