"""conv2d, conv1d, im2col and output_size against loops written straight from the definitions.

The reference functions below never call the engine: they pad by bounds checks, walk every
output cell, and add the products one by one.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine import conv1d, conv2d, im2col, output_size

FAST = settings(max_examples=40, deadline=None)


# ---------------------------------------------------------------- references (plain loops)

def tf_same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'same': out = ceil(W/S); total = max((out-1)S + d(k-1) + 1 - W, 0); extra after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def pads_from(padding, kernel, stride, dilation, size) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) for any padding form, resolved by the test itself."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        top, bottom = tf_same_pads(size[0], kernel[0], stride[0], dilation[0])
        left, right = tf_same_pads(size[1], kernel[1], stride[1], dilation[1])
        return top, bottom, left, right
    if isinstance(padding, int):
        return padding, padding, padding, padding
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    return tuple(padding)


def naive_conv2d(x, w, b, stride, pads, dilation, groups, mode):
    """x (N, C, H, W), w (O, C/groups, kH, kW), b (O,) or None -> (N, O, H_out, W_out)."""
    N, C, H, W = x.shape
    O, Cg, kH, kW = w.shape
    top, bottom, left, right = pads
    sH, sW = stride
    dH, dW = dilation
    H_out = (H + top + bottom - dH * (kH - 1) - 1) // sH + 1
    W_out = (W + left + right - dW * (kW - 1) - 1) // sW + 1
    out = np.zeros((N, O, H_out, W_out))
    per_group = O // groups
    for n in range(N):
        for o in range(O):
            g = o // per_group
            for i in range(H_out):
                for j in range(W_out):
                    total = 0.0 if b is None else float(b[o])
                    for c_local in range(Cg):
                        c = g * Cg + c_local
                        for m in range(kH):
                            for q in range(kW):
                                r = i * sH + m * dH - top
                                s = j * sW + q * dW - left
                                if not (0 <= r < H and 0 <= s < W):
                                    continue  # a padded cell holds 0
                                if mode == "convolution":
                                    weight = w[o, c_local, kH - 1 - m, kW - 1 - q]
                                else:
                                    weight = w[o, c_local, m, q]
                                total += x[n, c, r, s] * weight
                    out[n, o, i, j] = total
    return out


def naive_conv1d(x, w, b, stride, pads, dilation, groups, mode):
    """x (N, C, L), w (O, C/groups, k) -> (N, O, L_out)."""
    N, C, L = x.shape
    O, Cg, k = w.shape
    left, right = pads
    L_out = (L + left + right - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((N, O, L_out))
    per_group = O // groups
    for n in range(N):
        for o in range(O):
            g = o // per_group
            for j in range(L_out):
                total = 0.0 if b is None else float(b[o])
                for c_local in range(Cg):
                    for q in range(k):
                        s = j * stride + q * dilation - left
                        if 0 <= s < L:
                            weight = w[o, c_local, k - 1 - q] if mode == "convolution" else w[o, c_local, q]
                            total += x[n, g * Cg + c_local, s] * weight
                out[n, o, j] = total
    return out


# ---------------------------------------------------------------- problem generators

@st.composite
def conv2d_problems(draw):
    rank_x = draw(st.sampled_from([2, 3, 4]))
    if rank_x == 2:
        groups, per_in = 1, 1
    else:
        groups = draw(st.integers(1, 3))
        per_in = draw(st.integers(1, 2))
    per_out = draw(st.integers(1, 2))
    C, O = groups * per_in, groups * per_out
    depthwise = rank_x != 2 and draw(st.booleans())
    if depthwise:  # one filter per input channel
        groups = C = O = draw(st.integers(1, 4))
        per_in = 1
    N = draw(st.integers(1, 2)) if rank_x == 4 else 1
    rank_w = 2 if (rank_x == 2 and O == 1 and draw(st.booleans())) else 4
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    form = draw(st.sampled_from(["int", "pair", "four", "valid", "same"]))
    padding = {"int": lambda: draw(st.integers(0, 2)),
               "pair": lambda: (draw(st.integers(0, 2)), draw(st.integers(0, 2))),
               "four": lambda: tuple(draw(st.integers(0, 2)) for _ in range(4)),
               "valid": lambda: "valid", "same": lambda: "same"}[form]()
    eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if form in ("valid", "same"):
        fixed = (0, 0, 0, 0)
    else:
        fixed = pads_from(padding, kernel, stride, dilation, (1, 1))
    H = draw(st.integers(max(1, eff[0] - fixed[0] - fixed[1]), max(1, eff[0] - fixed[0] - fixed[1]) + 5))
    W = draw(st.integers(max(1, eff[1] - fixed[2] - fixed[3]), max(1, eff[1] - fixed[2] - fixed[3]) + 5))
    if form == "same":
        H, W = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    bias_form = draw(st.sampled_from([None, "scalar", "vector"]))
    mode = draw(st.sampled_from(["correlation", "convolution"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x4 = rng.integers(-4, 5, size=(N, C, H, W)).astype(float)
    w4 = rng.integers(-3, 4, size=(O, per_in, kernel[0], kernel[1])).astype(float)
    b = None if bias_form is None else (1.5 if bias_form == "scalar" else rng.integers(-3, 4, size=O).astype(float))
    x = {2: x4[0, 0], 3: x4[0], 4: x4}[rank_x]
    w = w4[0, 0] if rank_w == 2 else w4
    return dict(x=x, w=w, b=b, x4=x4, w4=w4, stride=stride, dilation=dilation, padding=padding,
                groups=groups, mode=mode, rank_x=rank_x, rank_w=rank_w)


def _user_shape(out4: np.ndarray, rank_x: int, rank_w: int) -> np.ndarray:
    if rank_x == 4:
        return out4
    if rank_x == 3 or rank_w == 4:
        return out4[0]
    return out4[0, 0]


@FAST
@given(conv2d_problems())
def test_conv2d_matches_the_definition_for_every_padding_stride_dilation_and_group(problem):
    p = problem
    kernel = p["w4"].shape[2:]
    pads = pads_from(p["padding"], kernel, p["stride"], p["dilation"], p["x4"].shape[2:])
    b_vec = None if p["b"] is None else np.broadcast_to(np.asarray(p["b"], dtype=float), (p["w4"].shape[0],))
    expected4 = naive_conv2d(p["x4"], p["w4"], b_vec, p["stride"], pads, p["dilation"], p["groups"], p["mode"])
    trace = conv2d(p["x"], p["w"], p["b"], stride=p["stride"], padding=p["padding"], dilation=p["dilation"],
                   groups=p["groups"], mode=p["mode"])
    expected = _user_shape(expected4, p["rank_x"], p["rank_w"])
    assert trace.outputs["output"].shape == expected.shape
    np.testing.assert_allclose(trace.outputs["output"], expected, atol=1e-9)
    assert trace.params["padding"] == list(pads)
    np.testing.assert_allclose(trace.evaluate()["output"], expected, atol=1e-9)
    if p["padding"] == "same":
        H, W = p["x4"].shape[2:]
        assert expected4.shape[2:] == (-(-H // p["stride"][0]), -(-W // p["stride"][1]))


def test_conv2d_same_padding_even_kernel_pads_bottom_right():
    x = np.arange(16, dtype=float).reshape(4, 4)
    k = np.array([[1.0, 2.0], [3.0, 4.0]])
    trace = conv2d(x, k, padding="same")
    assert trace.params["padding"] == [0, 1, 0, 1]
    expected = naive_conv2d(x[None, None], k[None, None], None, (1, 1), (0, 1, 0, 1), (1, 1), 1, "correlation")[0, 0]
    np.testing.assert_allclose(trace.outputs["output"], expected)
    # the last row and column read one padded zero: z(4,4) = 15*1 only
    assert trace.outputs["output"][3, 3] == 15.0
    first = trace.steps[0]
    assert first.id == "padding" and first.result == [0, 1, 0, 1]
    assert r"\Rightarrow 0 + 1" in first.expansion


@pytest.mark.parametrize("size, kernel, stride, dilation, expected", [
    (5, 3, 2, 1, (1, 1)),   # out 3: total max(2*2 + 3 - 5, 0) = 2
    (6, 3, 2, 1, (0, 1)),   # out 3: total max(2*2 + 3 - 6, 0) = 1, the extra cell after
    (5, 4, 2, 1, (1, 2)),   # even kernel, stride 2: total 3
    (7, 3, 1, 2, (2, 2)),   # dilation 2 spans 5
    (4, 1, 3, 1, (0, 0)),   # a 1x1 kernel never pads
    (2, 5, 3, 1, (1, 2)),   # out ceil(2/3) = 1, total 3
])
def test_conv2d_same_padding_follows_tensorflow_rule(size, kernel, stride, dilation, expected):
    x = np.ones((size, size))
    trace = conv2d(x, np.ones((kernel, kernel)), padding="same", stride=stride, dilation=dilation)
    assert trace.params["padding"] == [expected[0], expected[1], expected[0], expected[1]]
    assert trace.outputs["output"].shape == (-(-size // stride),) * 2


def test_conv2d_one_by_one_kernel_mixes_channels_per_pixel():
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, size=(3, 4, 5)).astype(float)
    w = rng.integers(-3, 4, size=(2, 3, 1, 1)).astype(float)
    out = conv2d(x, w).outputs["output"]
    expected = np.einsum("chw,oc->ohw", x, w[:, :, 0, 0])
    np.testing.assert_allclose(out, expected)


def test_conv2d_convolution_mode_equals_correlation_with_rotated_kernel():
    x = np.arange(25, dtype=float).reshape(5, 5)
    k = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0], [2.0, 0.0, 1.0]])
    conv = conv2d(x, k, mode="convolution")
    corr = conv2d(x, k[::-1, ::-1])
    np.testing.assert_allclose(conv.outputs["output"], corr.outputs["output"])
    flip = conv.steps[0]
    assert flip.id == "kernel_flip"
    np.testing.assert_array_equal(flip.result, k[::-1, ::-1])


def test_conv2d_depthwise_keeps_channels_apart():
    x = np.stack([np.ones((3, 3)), 2 * np.ones((3, 3))])
    w = np.stack([np.ones((1, 2, 2)), 10 * np.ones((1, 2, 2))])
    out = conv2d(x, w, groups=2).outputs["output"]
    np.testing.assert_allclose(out[0], 4.0)
    np.testing.assert_allclose(out[1], 80.0)


def test_conv2d_output_rank_follows_input_and_kernel_rank():
    x2, k2 = np.ones((4, 4)), np.ones((3, 3))
    assert conv2d(x2, k2).outputs["output"].shape == (2, 2)
    assert conv2d(x2, np.ones((5, 1, 3, 3))).outputs["output"].shape == (5, 2, 2)
    assert conv2d(np.ones((2, 4, 4)), np.ones((5, 2, 3, 3))).outputs["output"].shape == (5, 2, 2)
    assert conv2d(np.ones((3, 2, 4, 4)), np.ones((5, 2, 3, 3))).outputs["output"].shape == (3, 5, 2, 2)


# ---------------------------------------------------------------- conv1d

@st.composite
def conv1d_problems(draw):
    rank_x = draw(st.sampled_from([1, 2, 3]))
    if rank_x == 1:
        groups, per_in = 1, 1
    else:
        groups = draw(st.integers(1, 3))
        per_in = draw(st.integers(1, 2))
    per_out = draw(st.integers(1, 2))
    C, O = groups * per_in, groups * per_out
    N = draw(st.integers(1, 2)) if rank_x == 3 else 1
    rank_w = 1 if (rank_x == 1 and O == 1 and draw(st.booleans())) else 3
    k = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 3))
    form = draw(st.sampled_from(["int", "pair", "valid", "same"]))
    padding = {"int": lambda: draw(st.integers(0, 2)),
               "pair": lambda: (draw(st.integers(0, 2)), draw(st.integers(0, 2))),
               "valid": lambda: "valid", "same": lambda: "same"}[form]()
    fixed = {"int": lambda: 2 * padding, "pair": lambda: sum(padding)}.get(form, lambda: 0)()
    low = max(1, dilation * (k - 1) + 1 - fixed) if form != "same" else 1
    L = draw(st.integers(low, low + 6))
    mode = draw(st.sampled_from(["correlation", "convolution"]))
    bias_form = draw(st.sampled_from([None, "scalar", "vector"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x3 = rng.integers(-4, 5, size=(N, C, L)).astype(float)
    w3 = rng.integers(-3, 4, size=(O, per_in, k)).astype(float)
    b = None if bias_form is None else (-0.5 if bias_form == "scalar" else rng.integers(-3, 4, size=O).astype(float))
    x = {1: x3[0, 0], 2: x3[0], 3: x3}[rank_x]
    w = w3[0, 0] if rank_w == 1 else w3
    return dict(x=x, w=w, b=b, x3=x3, w3=w3, stride=stride, dilation=dilation, padding=padding, groups=groups,
                mode=mode, rank_x=rank_x, rank_w=rank_w)


@FAST
@given(conv1d_problems())
def test_conv1d_matches_the_definition(problem):
    p = problem
    k = p["w3"].shape[2]
    L = p["x3"].shape[2]
    if p["padding"] == "valid":
        pads = (0, 0)
    elif p["padding"] == "same":
        pads = tf_same_pads(L, k, p["stride"], p["dilation"])
    elif isinstance(p["padding"], int):
        pads = (p["padding"], p["padding"])
    else:
        pads = tuple(p["padding"])
    b_vec = None if p["b"] is None else np.broadcast_to(np.asarray(p["b"], dtype=float), (p["w3"].shape[0],))
    expected3 = naive_conv1d(p["x3"], p["w3"], b_vec, p["stride"], pads, p["dilation"], p["groups"], p["mode"])
    trace = conv1d(p["x"], p["w"], p["b"], stride=p["stride"], padding=p["padding"], dilation=p["dilation"],
                   groups=p["groups"], mode=p["mode"])
    if p["rank_x"] == 3:
        expected = expected3
    elif p["rank_x"] == 2 or p["rank_w"] == 3:
        expected = expected3[0]
    else:
        expected = expected3[0, 0]
    assert trace.outputs["output"].shape == expected.shape
    np.testing.assert_allclose(trace.outputs["output"], expected, atol=1e-9)
    assert trace.params["padding"] == list(pads)
    np.testing.assert_allclose(trace.evaluate()["output"], expected, atol=1e-9)
    if p["padding"] == "same":
        assert expected3.shape[2] == -(-L // p["stride"])


def test_conv1d_step_expansion_reads_the_sequence():
    trace = conv1d([3, 4, 5], [1, 2])
    assert [s.id for s in trace.steps] == ["output[0]", "output[1]"]
    assert trace.steps[1].expansion == "z_{2} = 4(1) + 5(2) = 14"
    assert [f.index for t in trace.steps[1].terms for f in t.factors] == [(1,), (0,), (2,), (1,)]


# ---------------------------------------------------------------- im2col

@st.composite
def im2col_problems(draw):
    C = draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    H = draw(st.integers(max(1, eff[0] - 2 * padding[0]), max(1, eff[0] - 2 * padding[0]) + 4))
    W = draw(st.integers(max(1, eff[1] - 2 * padding[1]), max(1, eff[1] - 2 * padding[1]) + 4))
    batched = draw(st.booleans())
    O = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x4 = rng.integers(-4, 5, size=(2 if batched else 1, C, H, W)).astype(float)
    w4 = rng.integers(-3, 4, size=(O, C, kernel[0], kernel[1])).astype(float)
    return dict(x4=x4, w4=w4, kernel=kernel, stride=stride, dilation=dilation, padding=padding, batched=batched)


@FAST
@given(im2col_problems())
def test_im2col_columns_hold_each_window_and_the_product_is_the_convolution(problem):
    p = problem
    x4, w4 = p["x4"], p["w4"]
    N, C, H, W = x4.shape
    (kH, kW), (sH, sW), (dH, dW), (pH, pW) = p["kernel"], p["stride"], p["dilation"], p["padding"]
    H_out = (H + 2 * pH - dH * (kH - 1) - 1) // sH + 1
    W_out = (W + 2 * pW - dW * (kW - 1) - 1) // sW + 1
    expected = np.zeros((N, C * kH * kW, H_out * W_out))
    for n in range(N):
        for i in range(H_out):
            for j in range(W_out):
                row = 0
                for c in range(C):
                    for m in range(kH):
                        for q in range(kW):
                            r, s = i * sH + m * dH - pH, j * sW + q * dW - pW
                            expected[n, row, i * W_out + j] = x4[n, c, r, s] if 0 <= r < H and 0 <= s < W else 0.0
                            row += 1
    x = x4 if p["batched"] else x4[0]
    trace = im2col(x, kernel_size=p["kernel"], stride=p["stride"], padding=p["padding"], dilation=p["dilation"],
                   w=w4)
    columns = trace.outputs["columns"]
    np.testing.assert_array_equal(columns, expected if p["batched"] else expected[0])
    conv = conv2d(x, w4, stride=p["stride"], padding=p["padding"], dilation=p["dilation"]).outputs["output"]
    np.testing.assert_allclose(trace.outputs["output"], conv)
    np.testing.assert_array_equal(trace.outputs["weight_rows"], w4.reshape(w4.shape[0], -1))


def test_im2col_seed_three_by_three_input_two_by_two_kernel():
    # cells named by their 1-based row and column: 11, 12, ...
    x = np.array([[11, 12, 13], [21, 22, 23], [31, 32, 33]], dtype=float)
    trace = im2col(x, kernel_size=2)
    # the seed writes one window per row; PyTorch's unfold (and the engine) one per column
    np.testing.assert_array_equal(trace.outputs["columns"].T, [[11, 12, 21, 22], [12, 13, 22, 23],
                                                               [21, 22, 31, 32], [22, 23, 32, 33]])
    assert trace.outputs["cells"][1] == [[0, 1], [0, 2], [1, 1], [1, 2]]


# ---------------------------------------------------------------- output_size

@FAST
@given(size=st.integers(1, 300), kernel=st.integers(1, 11), stride=st.integers(1, 5),
       padding=st.integers(0, 5), dilation=st.integers(1, 3))
def test_output_size_matches_the_floor_formula(size, kernel, stride, padding, dilation):
    eff = dilation * (kernel - 1) + 1
    assume(eff <= size + 2 * padding)  # otherwise no window fits: see test_errors
    trace = output_size(size, kernel, stride=stride, padding=padding, dilation=dilation)
    assert trace.outputs["output_size"] == (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    assert trace.evaluate() == trace.outputs


@FAST
@given(size=st.integers(1, 60), kernel=st.integers(1, 6), stride=st.integers(1, 5), padding=st.integers(0, 3))
def test_output_size_ceil_mode_drops_a_window_that_starts_in_the_trailing_padding(size, kernel, stride, padding):
    assume(kernel <= size + 2 * padding and 2 * padding <= kernel)  # PyTorch pooling's limits
    trace = output_size(size, kernel, stride=stride, padding=padding, ceil_mode=True)
    span = size + 2 * padding - kernel
    expected = -(-span // stride) + 1
    if (expected - 1) * stride >= size + padding:
        expected -= 1
    assert trace.outputs["output_size"] == expected
    # and the last window always starts inside the input or the leading padding
    assert (expected - 1) * stride < size + padding


def test_output_size_rectangular_gives_rows_and_columns():
    trace = output_size((28, 30), (5, 3), stride=(1, 2), padding=(0, 1))
    assert trace.outputs["output_size"] == (24, 15)
    assert [s.id for s in trace.steps] == ["output_size.rows", "output_size.columns"]
    assert trace.evaluate()["output_size"].tolist() == [24, 15]


def test_output_size_same_padding_keeps_size_at_stride_one():
    trace = output_size(17, 4, padding="same")
    assert trace.outputs["output_size"] == 17
    assert trace.params["padding"] == [1, 2, 1, 2]


def test_conv2d_expansion_brackets_negative_numbers_and_adds_the_bias():
    step = conv2d([[-1, 2]], [[3, -4]], -0.5).steps[0]
    assert step.expansion == "z_{1,1} = (-1)(3) + 2(-4) + (-0.5) = -11.5"
    assert [t.value for t in step.terms] == [-3.0, -8.0, -0.5]
    assert step.terms[-1].factors[0].tensor == "bias" and step.reads["bias"] == [()]


def test_conv2d_padded_cells_appear_as_zero_terms():
    step = conv2d([[1, 2], [3, 4]], np.ones((2, 2)), padding=1).steps[0]
    assert step.expansion == "z_{1,1} = 0(1) + 0(1) + 0(1) + 1(1) = 1"
    assert step.terms[0].factors[0].index == (-1, -1)
    assert "3 of the window's cells are padding" in step.message
