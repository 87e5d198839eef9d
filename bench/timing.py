"""Timing shared by the bench scripts."""

from __future__ import annotations

import time

STEP_BUDGET_MS = 5.0
"""Reading one step of a large layer, at most."""


def best_of(function, repeats: int) -> float:
    """The fastest of ``repeats`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best
