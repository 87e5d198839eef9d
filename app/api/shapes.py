"""JSON routes of shape arithmetic: output sizes, and im2col (windows as columns)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

import engine

from ..schemas import Im2colRequest, Im2colTrace, OutputSizeRequest, OutputSizeTrace
from .budget import check_im2col
from .tensors import read_tensors
from .traces import ERROR_RESPONSES, PagingQuery, respond

router = APIRouter(tags=["shapes"])


def _im2col(body: Im2colRequest) -> engine.Trace:
    t = read_tensors({"input": body.input, "kernel": body.kernel})
    kernel = t["kernel"]
    check_im2col(t["input"].shape, None if kernel is None else kernel.shape, body.kernel_size, body.stride,
                 body.padding, body.dilation)
    try:
        return engine.im2col(t["input"], kernel_size=body.kernel_size, stride=body.stride, padding=body.padding,
                             dilation=body.dilation, w=kernel)
    except engine.EngineError as error:
        if kernel is None and error.argument == "kernel":  # the engine's stand-in kernel has kernel_size's shape
            raise engine.EngineError("kernel_size", error.problem, error.location) from None
        raise


def _output_size(body: OutputSizeRequest) -> engine.Trace:
    return engine.output_size(body.input_size, body.kernel_size, stride=body.stride, padding=body.padding,
                              dilation=body.dilation, ceil_mode=body.ceil_mode)


@router.post("/im2col", response_model=Im2colTrace, responses=ERROR_RESPONSES,
             summary="im2col: every window as a column, one step per column")
def im2col(body: Im2colRequest, page: PagingQuery) -> Response:
    """PyTorch's unfold. With a kernel, the convolution is rebuilt as one matrix product."""
    return respond(lambda: _im2col(body), page)


@router.post("/output-size", response_model=OutputSizeTrace, responses=ERROR_RESPONSES,
             summary="Output size of a convolution or pooling window: one step per axis")
def output_size(body: OutputSizeRequest, page: PagingQuery) -> Response:
    """floor((W + P_before + P_after − d(F − 1) − 1)/S) + 1, per axis, with the numbers in it."""
    return respond(lambda: _output_size(body), page)
