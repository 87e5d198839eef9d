"""JSON routes of batch normalization, forward (training or inference) and backward."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

import engine

from ..schemas import BatchnormBackwardRequest, BatchnormBackwardTrace, BatchnormRequest, BatchnormTrace
from .budget import check_batchnorm
from .tensors import read_tensors
from .traces import ERROR_RESPONSES, PagingQuery, respond

router = APIRouter(tags=["normalization"])


def _batchnorm(body: BatchnormRequest) -> engine.Trace:
    t = read_tensors({name: getattr(body, name) for name in ("input", "gamma", "beta", "running_mean",
                                                               "running_var")})
    check_batchnorm(t["input"].shape)
    return engine.batchnorm(t["input"], t["gamma"], t["beta"], eps=body.eps, training=body.training,
                            running_mean=t["running_mean"], running_var=t["running_var"], momentum=body.momentum)


def _batchnorm_backward(body: BatchnormBackwardRequest) -> engine.Trace:
    t = read_tensors({name: getattr(body, name) for name in ("input", "gamma", "beta", "grad_output")})
    check_batchnorm(t["input"].shape)
    return engine.batchnorm_backward(t["input"], t["gamma"], t["beta"], t["grad_output"], eps=body.eps)


@router.post("/batchnorm", response_model=BatchnormTrace, responses=ERROR_RESPONSES,
             summary="Batch normalization: each channel's mean and variance, then one step per cell")
def batchnorm(body: BatchnormRequest, page: PagingQuery) -> Response:
    """x̂ = (x − μ_c)/√(σ²_c + ε), y = γ_c x̂ + β_c; in training the running statistics are updated too."""
    return respond(lambda: _batchnorm(body), page)


@router.post("/batchnorm/backward", response_model=BatchnormBackwardTrace, responses=ERROR_RESPONSES,
             summary="Batch normalization's gradients: ∂L/∂β and ∂L/∂γ per channel, then one step per cell")
def batchnorm_backward(body: BatchnormBackwardRequest, page: PagingQuery) -> Response:
    """Training-mode gradients: every cell's ∂L/∂x carries its channel's Σδ and Σδx̂."""
    return respond(lambda: _batchnorm_backward(body), page)
