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


FORWARD_REPEATS = 7


def forward_times() -> tuple[float, float]:
    """Seconds for the engine's conv2d and for the bare NumPy version on the ResNet stem, best of 7 each."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 224, 224))
    w = rng.standard_normal((64, 3, 7, 7))
    reference = numpy_im2col_conv(x, w, 2, 3)
    engine_out = conv2d(x, w, stride=2, padding=3).outputs["output"]
    assert np.allclose(engine_out, reference), "the engine and the NumPy baseline disagree"
    engine_s = best_of(lambda: conv2d(x, w, stride=2, padding=3), FORWARD_REPEATS)
    numpy_s = best_of(lambda: numpy_im2col_conv(x, w, 2, 3), FORWARD_REPEATS)
    return engine_s, numpy_s


def forward_comparison() -> None:
    engine_s, numpy_s = forward_times()
    repeats = FORWARD_REPEATS
    print("Forward: 3x224x224 input, 64 filters 7x7, stride 2, padding 3 -> 64x112x112 "
          f"(best of {repeats})")
    print(f"  engine conv2d          {engine_s * 1e3:8.1f} ms")
    print(f"  NumPy im2col + matmul  {numpy_s * 1e3:8.1f} ms")
    print(f"  ratio engine / NumPy   {engine_s / numpy_s:8.2f} x")


def step_times(x: np.ndarray, w: np.ndarray, repeats: int = 20, **options) -> dict:
    """Building the trace, and reading its middle step by position and by id (best of ``repeats``), in seconds."""
    start = time.perf_counter()
    trace = conv2d(x, w, **options)
    build_s = time.perf_counter() - start
    steps = trace.steps
    middle = len(steps) // 2
    step = steps[middle]
    return {"build_s": build_s, "steps": len(steps), "middle": middle, "step": step,
            "read_s": best_of(lambda: steps[middle], repeats), "by_id_s": best_of(lambda: steps.by_id(step.id), repeats)}


STEM = dict(stride=2, padding=3)
"""The ResNet stem: a 3x224x224 input, 64 filters 7x7."""


def stem_layer(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal((3, 224, 224)), rng.standard_normal((64, 3, 7, 7))


def middle_layer(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A 64x56x56 input, 64 filters 3x3 (use padding 1)."""
    return rng.standard_normal((64, 56, 56)), rng.standard_normal((64, 64, 3, 3))


def step_reading(label: str, x: np.ndarray, w: np.ndarray, **options) -> bool:
    repeats = 20
    t = step_times(x, w, repeats, **options)
    build_s, steps, middle, step, read_s, by_id_s = (t["build_s"], range(t["steps"]), t["middle"], t["step"],
                                                     t["read_s"], t["by_id_s"])
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
    ok = step_reading("Steps: ResNet stem, 3x224x224, 64 filters 7x7, stride 2, padding 3", *stem_layer(rng), **STEM)
    print()
    ok &= step_reading("Steps: 64x56x56 input, 64 filters 3x3, padding 1", *middle_layer(rng), padding=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
