"""pool2d and pool2d_backward against loops written from PyTorch's definitions.

max / min: only real cells compete (padding never wins); the first extreme in row-major
order wins a tie and receives the whole gradient. avg: count_include_pad counts the padding,
never the ceil-mode overhang past it. ceil_mode: the last window is dropped when it would
start at or beyond the input plus its leading padding.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import pool2d, pool2d_backward

FAST = settings(max_examples=40, deadline=None)


def pool_out_size(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape (dilation 1)."""
    span = size + 2 * pad - kernel
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + pad:
        out -= 1
    return out


def window(i, j, kernel, stride, pads, H, W):
    """The window's cells in row-major order as (r, s, where): where is 'real', 'pad' or 'beyond'."""
    cells = []
    for m in range(kernel[0]):
        for q in range(kernel[1]):
            r, s = i * stride[0] - pads[0] + m, j * stride[1] - pads[1] + q
            if 0 <= r < H and 0 <= s < W:
                where = "real"
            elif -pads[0] <= r < H + pads[0] and -pads[1] <= s < W + pads[1]:
                where = "pad"
            else:
                where = "beyond"
            cells.append((r, s, where))
    return cells


def naive_pool(x, kind, kernel, stride, pads, ceil_mode, count_include_pad):
    """x (N, C, H, W) -> (output, winners): winners[n, c, i, j] = (r, s) of the first max/min."""
    N, C, H, W = x.shape
    H_out = pool_out_size(H, kernel[0], stride[0], pads[0], ceil_mode)
    W_out = pool_out_size(W, kernel[1], stride[1], pads[1], ceil_mode)
    out = np.zeros((N, C, H_out, W_out))
    winners = {}
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    cells = window(i, j, kernel, stride, pads, H, W)
                    real = [(r, s) for r, s, where in cells if where == "real"]
                    if kind == "avg":
                        total = sum(x[n, c, r, s] for r, s in real)
                        count = sum(1 for *_, where in cells
                                    if where == "real" or (where == "pad" and count_include_pad))
                        out[n, c, i, j] = total / count
                        winners[n, c, i, j] = (cells, count)
                        continue
                    best = real[0]
                    for r, s in real[1:]:  # strict comparison: the first extreme keeps its place
                        if (kind == "max" and x[n, c, r, s] > x[n, c][best]) or \
                                (kind == "min" and x[n, c, r, s] < x[n, c][best]):
                            best = (r, s)
                    out[n, c, i, j] = x[n, c][best]
                    winners[n, c, i, j] = best
    return out, winners


def naive_pool_backward(x, grad_out, kind, kernel, stride, pads, ceil_mode, count_include_pad):
    out, winners = naive_pool(x, kind, kernel, stride, pads, ceil_mode, count_include_pad)
    N, C, H, W = x.shape
    grad_x = np.zeros_like(x)
    for (n, c, i, j), won in winners.items():
        if kind == "avg":
            cells, count = won
            for r, s, where in cells:
                if where == "real":
                    grad_x[n, c, r, s] += grad_out[n, c, i, j] / count
        else:
            grad_x[n, c][won] += grad_out[n, c, i, j]
    return grad_x


@st.composite
def pool_problems(draw, values=(-3, 3)):
    kind = draw(st.sampled_from(["max", "avg", "min"]))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    pads = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    ceil_mode = draw(st.booleans())
    count_include_pad = draw(st.booleans())
    H = draw(st.integers(max(1, kernel[0] - 2 * pads[0]), 8))
    W = draw(st.integers(max(1, kernel[1] - 2 * pads[1]), 8))
    rank = draw(st.sampled_from([2, 3, 4]))
    shape = {2: (1, 1, H, W), 3: (draw(st.integers(1, 3)), H, W), 4: (2, 2, H, W)}[rank]
    shape = (1,) * (4 - len(shape)) + shape if rank == 3 else shape
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # small integers: ties are common, which is what the tie rule needs
    x4 = rng.integers(values[0], values[1] + 1, size=shape).astype(float)
    x = {2: x4[0, 0], 3: x4[0], 4: x4}[rank]
    return dict(x=x, x4=x4, kind=kind, kernel=kernel, stride=stride, pads=pads, ceil_mode=ceil_mode,
                count_include_pad=count_include_pad, rank=rank, seed=draw(st.integers(0, 2**32 - 1)))


def _user(array4, rank):
    return {2: array4[0, 0] if array4.ndim == 4 else array4, 3: array4[0], 4: array4}[rank]


@FAST
@given(pool_problems())
def test_pool2d_matches_pytorch_definition(problem):
    p = problem
    stride = p["kernel"] if p["stride"] is None else p["stride"]
    expected4, _ = naive_pool(p["x4"], p["kind"], p["kernel"], stride, p["pads"], p["ceil_mode"],
                              p["count_include_pad"])
    trace = pool2d(p["x"], kind=p["kind"], kernel_size=p["kernel"], stride=p["stride"], padding=p["pads"],
                   ceil_mode=p["ceil_mode"], count_include_pad=p["count_include_pad"])
    expected = _user(expected4, p["rank"])
    assert trace.outputs["output"].shape == expected.shape
    np.testing.assert_allclose(trace.outputs["output"], expected, atol=1e-12)
    np.testing.assert_allclose(trace.evaluate()["output"], expected, atol=1e-12)


@FAST
@given(pool_problems())
def test_pool2d_backward_routes_like_pytorch_ties_to_the_first_in_row_major_order(problem):
    p = problem
    stride = p["kernel"] if p["stride"] is None else p["stride"]
    out4, _ = naive_pool(p["x4"], p["kind"], p["kernel"], stride, p["pads"], p["ceil_mode"], p["count_include_pad"])
    grad_out4 = np.random.default_rng(p["seed"]).integers(-4, 5, size=out4.shape).astype(float)
    expected4 = naive_pool_backward(p["x4"], grad_out4, p["kind"], p["kernel"], stride, p["pads"], p["ceil_mode"],
                                    p["count_include_pad"])
    trace = pool2d_backward(p["x"], _user(grad_out4, p["rank"]), kind=p["kind"], kernel_size=p["kernel"],
                            stride=p["stride"], padding=p["pads"], ceil_mode=p["ceil_mode"],
                            count_include_pad=p["count_include_pad"])
    np.testing.assert_allclose(trace.outputs["grad_input"], _user(expected4, p["rank"]), atol=1e-12)
    np.testing.assert_allclose(trace.evaluate()["grad_input"], _user(expected4, p["rank"]), atol=1e-12)


def test_max_pool_padding_never_wins_even_when_every_input_is_negative():
    x = -np.arange(1, 10, dtype=float).reshape(3, 3)
    trace = pool2d(x, kind="max", kernel_size=2, stride=2, padding=1)
    np.testing.assert_array_equal(trace.outputs["output"], [[-1, -2], [-4, -5]])
    # the padded cells are not even listed among the candidates
    assert trace.steps[0].expansion == "z_{1,1} = \\max(-1) = -1"


def test_min_pool_padding_never_wins_when_every_input_is_positive():
    x = np.arange(1, 10, dtype=float).reshape(3, 3)
    out = pool2d(x, kind="min", kernel_size=3, stride=1, padding=1).outputs["output"]
    np.testing.assert_array_equal(out, [[1, 1, 2], [1, 1, 2], [4, 4, 5]])


def test_avg_pool_count_include_pad_decides_whether_padding_counts():
    x = np.arange(1, 13, dtype=float).reshape(3, 4)
    options = dict(kind="avg", kernel_size=2, stride=2, padding=1)
    included = pool2d(x, count_include_pad=True, **options).outputs["output"]
    excluded = pool2d(x, count_include_pad=False, **options).outputs["output"]
    # the corner window holds x(1,1) = 1 and three padded cells
    assert included[0, 0] == 1 / 4 and excluded[0, 0] == 1.0
    # a window inside the input is the same either way
    assert included[1, 1] == (6 + 7 + 10 + 11) / 4 == excluded[1, 1]


def test_avg_pool_ceil_overhang_is_never_counted():
    # 5 columns, k 2, s 2, ceil: the last window holds column 5 and one cell past the input
    x = np.array([[1.0, 2.0, 3.0, 4.0, 10.0]])
    out = pool2d(x, kind="avg", kernel_size=(1, 2), stride=(1, 2), ceil_mode=True,
                 count_include_pad=True).outputs["output"]
    np.testing.assert_array_equal(out, [[1.5, 3.5, 10.0]])
    # 4 columns padded by 1, k 3, s 2, ceil: windows start at -1, 1, 3; the last holds x4 = 4,
    # the right pad, and one overhang cell: PyTorch divides by 2 (input + pad), not 3
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    options = dict(kind="avg", kernel_size=(1, 3), stride=(1, 2), padding=(0, 1), ceil_mode=True)
    included = pool2d(x, count_include_pad=True, **options).outputs["output"]
    excluded = pool2d(x, count_include_pad=False, **options).outputs["output"]
    np.testing.assert_allclose(included, [[1.0, 3.0, 2.0]])
    np.testing.assert_allclose(excluded, [[1.5, 3.0, 4.0]])


def test_ceil_mode_drops_a_window_that_would_start_in_the_trailing_padding():
    # 4 + 2*1 = 6, k 2, s 3: floor gives 2, ceil would give 3 starting at 6 - 1 = 5 >= 4 + 1: dropped
    x = np.arange(16, dtype=float).reshape(4, 4)
    trace = pool2d(x, kind="max", kernel_size=2, stride=3, padding=1, ceil_mode=True)
    assert trace.outputs["output"].shape == (2, 2)
    # and a ceil-mode window that starts inside the input is kept
    trace = pool2d(np.arange(25, dtype=float).reshape(5, 5), kind="max", kernel_size=2, stride=2, ceil_mode=True)
    assert trace.outputs["output"].shape == (3, 3)
    assert trace.outputs["output"][2, 2] == 24.0


def test_max_pool_tie_sends_gradient_to_the_first_cell_in_row_major_order():
    x = np.array([[5.0, 5.0], [5.0, 5.0]])
    trace = pool2d_backward(x, [[7.0]], kind="max", kernel_size=2)
    np.testing.assert_array_equal(trace.outputs["grad_input"], [[7, 0], [0, 0]])
    forward = pool2d(x, kind="max", kernel_size=2)
    assert "4 cells tie" in forward.steps[0].message


def test_avg_pool_backward_spreads_delta_over_the_counted_cells():
    x = np.ones((2, 2))  # padded by 1, k 2, s 1: nine windows
    grad = pool2d_backward(x, np.full((3, 3), 8.0), kind="avg", kernel_size=2, stride=1, padding=1,
                           count_include_pad=True).outputs["grad_input"]
    # each input cell sits in 4 windows of 4 counted cells each: 4 * 8/4
    np.testing.assert_array_equal(grad, [[8, 8], [8, 8]])
    grad = pool2d_backward(x, np.full((3, 3), 8.0), kind="avg", kernel_size=2, stride=1, padding=1,
                           count_include_pad=False).outputs["grad_input"]
    # corner windows count 1 cell, edge windows 2, the centre 4: 8/1 + 8/2 + 8/2 + 8/4 for each cell
    np.testing.assert_array_equal(grad, [[18, 18], [18, 18]])


@pytest.mark.parametrize("kind, expected", [("max", [[6, 9], [7, 8]]), ("min", [[1, 1], [0, 3]]),
                                            ("avg", [[3.5, 4.25], [3.25, 5.0]])])
def test_pool2d_default_stride_is_the_kernel(kind, expected):
    x = [[1, 3, 2, 9], [4, 6, 1, 5], [7, 2, 8, 3], [0, 4, 3, 6]]
    np.testing.assert_array_equal(pool2d(x, kind=kind, kernel_size=2).outputs["output"], expected)
