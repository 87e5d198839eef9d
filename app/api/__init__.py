"""The JSON API, v1: one router per op family under /api/v1."""

from fastapi import APIRouter

from . import conv, pool, shapes

router = APIRouter(prefix="/api/v1")
router.include_router(conv.router)
router.include_router(pool.router)
router.include_router(shapes.router)
