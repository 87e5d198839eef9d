"""Forward convolution speed, and the cost of reading one step of a large trace.

Run from the repository root:  python bench/conv_speed.py

Prints
  1. the engine's conv2d (the whole call: checks, numbers, the lazy trace) on a ResNet stem,
     3x224x224 input, 64 filters 7x7, stride 2, padding 3, beside a bare NumPy im2col + matmul
     of the same problem, both best of several runs, and their ratio;
  2. for that stem and for a 64x56x56 layer (64 filters 3x3, padding 1): the time to build the
     trace, the step count, and the time to read one step from the middle (budget: under 5 ms).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import conv2d  # noqa: E402
from timing import STEP_BUDGET_MS, best_of  # noqa: E402


def numpy_im2col_conv(x: np.ndarray, w: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """x (C, H, W), w (O, C, k, k): pad, unfold every window into a column, one matmul."""
    C, H, W = x.shape
    O, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::stride, ::stride]  # (C, H_out, W_out, k, k)
    _, H_out, W_out, _, _ = windows.shape
    columns = windows.transpose(0, 3, 4, 1, 2).reshape(C * k * k, H_out * W_out)
    return (w.reshape(O, -1) @ columns).reshape(O, H_out, W_out)


def forward_comparison() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 224, 224))
    w = rng.standard_normal((64, 3, 7, 7))
    reference = numpy_im2col_conv(x, w, 2, 3)
    engine_out = conv2d(x, w, stride=2, padding=3).outputs["output"]
    assert np.allclose(engine_out, reference), "the engine and the NumPy baseline disagree"
    repeats = 7
    engine_s = best_of(lambda: conv2d(x, w, stride=2, padding=3), repeats)
    numpy_s = best_of(lambda: numpy_im2col_conv(x, w, 2, 3), repeats)
    print("Forward: 3x224x224 input, 64 filters 7x7, stride 2, padding 3 -> 64x112x112 "
          f"(best of {repeats})")
    print(f"  engine conv2d          {engine_s * 1e3:8.1f} ms")
    print(f"  NumPy im2col + matmul  {numpy_s * 1e3:8.1f} ms")
    print(f"  ratio engine / NumPy   {engine_s / numpy_s:8.2f} x")


def step_reading(label: str, x: np.ndarray, w: np.ndarray, **options) -> bool:
    start = time.perf_counter()
    trace = conv2d(x, w, **options)
    build_s = time.perf_counter() - start
    steps = trace.steps
    middle = len(steps) // 2
    step = steps[middle]
    repeats = 20
    read_s = best_of(lambda: steps[middle], repeats)
    by_id_s = best_of(lambda: steps.by_id(step.id), repeats)
    within = read_s * 1e3 < STEP_BUDGET_MS and by_id_s * 1e3 < STEP_BUDGET_MS
    print(f"{label}")
    print(f"  build trace            {build_s * 1e3:8.1f} ms   ({len(steps):,} steps)")
    print(f"  read step {middle:<7,}      {read_s * 1e3:8.2f} ms   ({len(step.terms)} terms, best of {repeats})")
    print(f"  by_id({step.id}) {by_id_s * 1e3:6.2f} ms")
    print(f"  budget {STEP_BUDGET_MS:g} ms per step: {'within' if within else 'OVER'}")
    return within


def main() -> int:
    forward_comparison()
    print()
    rng = np.random.default_rng(1)
    ok = step_reading("Steps: ResNet stem, 3x224x224, 64 filters 7x7, stride 2, padding 3",
                      rng.standard_normal((3, 224, 224)), rng.standard_normal((64, 3, 7, 7)), stride=2, padding=3)
    print()
    ok &= step_reading("Steps: 64x56x56 input, 64 filters 3x3, padding 1",
                       rng.standard_normal((64, 56, 56)), rng.standard_normal((64, 64, 3, 3)), padding=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
