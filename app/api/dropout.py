"""JSON route of dropout: a given mask, or one drawn from a seed; inverted or classic scaling."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

import engine

from ..schemas import DropoutRequest, DropoutTrace
from .tensors import read_tensors
from .traces import ERROR_RESPONSES, PagingQuery, respond

router = APIRouter(tags=["dropout"])


def _dropout(body: DropoutRequest) -> engine.Trace:
    t = read_tensors({"input": body.input, "mask": body.mask})
    return engine.dropout(t["input"], p=body.p, mask=t["mask"], seed=body.seed, variant=body.variant,
                          training=body.training)


@router.post("/dropout", response_model=DropoutTrace, responses=ERROR_RESPONSES,
             summary="Dropout: one step per cell")
def dropout(body: DropoutRequest, page: PagingQuery) -> Response:
    """Training drops each cell with probability p; inverted dropout divides the kept ones by 1 − p.
    The same seed draws the same mask; without a mask or a seed one is drawn and returned in `params.seed`."""
    return respond(lambda: _dropout(body), page)
