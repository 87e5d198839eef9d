"""The cost of one step in the backward and pooling traces of real-sized layers.

Run from the repository root:  python bench/step_budget.py

Prints, for each trace: the time to build it, its step count, and for each kind of step in it
the time to read the middle one and its term count, against the 5 ms budget per step.
A gradient of a weight sums over every window of the layer, so its steps are the longest.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import conv2d_backward, pool2d, pool2d_backward  # noqa: E402
from timing import STEP_BUDGET_MS, best_of  # noqa: E402


def report(label: str, build, segments: list[str], repeats: int = 10) -> bool:
    start = time.perf_counter()
    trace = build()
    build_s = time.perf_counter() - start
    steps = trace.steps
    print(label)
    print(f"  build trace                      {build_s * 1e3:8.1f} ms   ({len(steps):,} steps)")
    ok = True
    for name in segments:
        positions = [i for i in (steps.position(f"{name}[{k}]") for k in _middle_ids(trace, name)) if i is not None]
        position = positions[0]
        step = steps[position]
        read_s = best_of(lambda: steps[position], repeats)
        within = read_s * 1e3 < STEP_BUDGET_MS
        ok &= within
        print(f"  read {step.id:<27} {read_s * 1e3:8.2f} ms   ({len(step.terms):,} terms)"
              f"{'' if within else '   OVER BUDGET'}")
    return ok


def _middle_ids(trace, name: str) -> list[str]:
    """The index of the middle cell of output ``name``, as an id suffix."""
    shape = np.shape(trace.outputs[name])
    return [",".join(str(n // 2) for n in shape)]


def main() -> int:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 56, 56))
    w = rng.standard_normal((64, 64, 3, 3))
    b = rng.standard_normal(64)
    grad_out = rng.standard_normal((64, 56, 56))
    ok = report("conv2d_backward: 64x56x56 input, 64 filters 3x3, padding 1, bias",
                lambda: conv2d_backward(x, w, grad_out, b, padding=1), ["grad_input", "grad_weight", "grad_bias"])
    print()
    stem_x = rng.standard_normal((3, 224, 224))
    stem_w = rng.standard_normal((64, 3, 7, 7))
    stem_grad = rng.standard_normal((64, 112, 112))
    ok &= report("conv2d_backward: ResNet stem 3x224x224, 64 filters 7x7, stride 2, padding 3",
                 lambda: conv2d_backward(stem_x, stem_w, stem_grad, stride=2, padding=3),
                 ["grad_input", "grad_weight"], repeats=3)
    print()
    pool_x = rng.standard_normal((64, 112, 112))
    ok &= report("pool2d max: 64x112x112, 3x3, stride 2, padding 1",
                 lambda: pool2d(pool_x, kind="max", kernel_size=3, stride=2, padding=1), ["output"])
    print()
    ok &= report("pool2d_backward max: 64x112x112, 3x3, stride 2, padding 1",
                 lambda: pool2d_backward(pool_x, rng.standard_normal((64, 56, 56)), kind="max", kernel_size=3,
                                         stride=2, padding=1), ["grad_input"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
