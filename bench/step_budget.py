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


def measure(build, segments: list[str], repeats: int = 10) -> tuple[float, int, list[tuple[str, float, int]]]:
    """Seconds to build the trace, its step count, and for each segment's middle step: id, seconds to read, terms."""
    start = time.perf_counter()
    trace = build()
    build_s = time.perf_counter() - start
    steps = trace.steps
    reads = []
    for name in segments:
        positions = [i for i in (steps.position(f"{name}[{k}]") for k in _middle_ids(trace, name)) if i is not None]
        position = positions[0]
        step = steps[position]
        reads.append((step.id, best_of(lambda: steps[position], repeats), len(step.terms)))
    return build_s, len(steps), reads


def backward_middle_layer(rng: np.random.Generator):
    """conv2d_backward of a 64x56x56 layer, 64 filters 3x3, padding 1, with a bias (a function building it)."""
    x, w = rng.standard_normal((64, 56, 56)), rng.standard_normal((64, 64, 3, 3))
    b, grad_out = rng.standard_normal(64), rng.standard_normal((64, 56, 56))
    return lambda: conv2d_backward(x, w, grad_out, b, padding=1)


def backward_stem(rng: np.random.Generator):
    """conv2d_backward of the ResNet stem (a function building it)."""
    x, w = rng.standard_normal((3, 224, 224)), rng.standard_normal((64, 3, 7, 7))
    grad_out = rng.standard_normal((64, 112, 112))
    return lambda: conv2d_backward(x, w, grad_out, stride=2, padding=3)


def report(label: str, build, segments: list[str], repeats: int = 10) -> bool:
    build_s, count, reads = measure(build, segments, repeats)
    print(label)
    print(f"  build trace                      {build_s * 1e3:8.1f} ms   ({count:,} steps)")
    ok = True
    for step_id, read_s, terms in reads:
        within = read_s * 1e3 < STEP_BUDGET_MS
        ok &= within
        print(f"  read {step_id:<27} {read_s * 1e3:8.2f} ms   ({terms:,} terms)"
              f"{'' if within else '   OVER BUDGET'}")
    return ok


def _middle_ids(trace, name: str) -> list[str]:
    """The index of the middle cell of output ``name``, as an id suffix."""
    shape = np.shape(trace.outputs[name])
    return [",".join(str(n // 2) for n in shape)]


def main() -> int:
    rng = np.random.default_rng(2)
    ok = report("conv2d_backward: 64x56x56 input, 64 filters 3x3, padding 1, bias", backward_middle_layer(rng),
                ["grad_input", "grad_weight", "grad_bias"])
    print()
    ok &= report("conv2d_backward: ResNet stem 3x224x224, 64 filters 7x7, stride 2, padding 3", backward_stem(rng),
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
