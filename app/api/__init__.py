"""The JSON API, v1: one router per op family under /api/v1."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
