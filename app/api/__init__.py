"""The JSON API, v1: one router per op family under /api/v1."""

from fastapi import APIRouter

from . import activations, conv, dense, dropout, losses, network, norm, optim, pool, shapes
from . import architecture
from . import check
from . import practice

router = APIRouter(prefix="/api/v1")
router.include_router(conv.router)
router.include_router(pool.router)
router.include_router(shapes.router)
router.include_router(activations.router)
router.include_router(dense.router)
router.include_router(losses.router)
router.include_router(optim.router)
router.include_router(norm.router)
router.include_router(dropout.router)
router.include_router(check.router)
router.include_router(practice.router)
router.include_router(network.router)
router.include_router(architecture.router)
