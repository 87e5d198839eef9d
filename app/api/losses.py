"""JSON route of the losses: MSE, cross-entropy, softmax cross-entropy and binary cross-entropy."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

import engine

from ..schemas import LossRequest, LossTrace
from .budget import check_loss
from .tensors import read_tensors
from .traces import ERROR_RESPONSES, PagingQuery, respond

router = APIRouter(tags=["losses"])


def _loss(body: LossRequest) -> engine.Trace:
    t = read_tensors({"prediction": body.prediction, "target": body.target})
    check_loss(t["prediction"].shape, body.kind)
    return engine.loss(t["prediction"], t["target"], kind=body.kind, reduction=body.reduction, eps=body.eps)


@router.post("/loss", response_model=LossTrace, responses=ERROR_RESPONSES,
             summary="A loss and its gradient: the loss as one sum, then one step per gradient cell")
def loss(body: LossRequest, page: PagingQuery) -> Response:
    """L and ∂L/∂prediction. `mean` averages MSE and binary cross-entropy over elements and the
    cross-entropies over samples; `half_sum` (½Σ, MSE only) makes the gradient ŷ − t."""
    return respond(lambda: _loss(body), page)
