"""Every backward op against central finite differences of its forward op.

With L = sum(grad_output * forward(...)), dL/dp is the gradient the backward op returns. The
forward ops are checked against the definition elsewhere; here each backward is held to its
own forward, one perturbed number at a time.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import conv1d, conv1d_backward, conv2d, conv2d_backward, pool2d, pool2d_backward
from central_differences import numeric_gradient

FD = settings(max_examples=25, deadline=None)


@st.composite
def conv2d_cases(draw):
    groups = draw(st.integers(1, 2))
    C, O = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(*[st.integers(0, 2)] * 4), st.just("same"),
                             st.just("valid")))
    eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if isinstance(padding, int):
        extra = (2 * padding,) * 2
    elif isinstance(padding, tuple):
        extra = (padding[0] + padding[1], padding[2] + padding[3])
    else:
        extra = (0, 0)
    H = draw(st.integers(max(1, eff[0] - extra[0]), max(1, eff[0] - extra[0]) + 3))
    W = draw(st.integers(max(1, eff[1] - extra[1]), max(1, eff[1] - extra[1]) + 3))
    N = draw(st.sampled_from([None, 2]))
    bias = draw(st.sampled_from([None, "scalar", "vector"]))
    mode = draw(st.sampled_from(["correlation", "convolution"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((C, H, W) if N is None else (N, C, H, W))
    w = rng.standard_normal((O, C // groups) + kernel)
    b = None if bias is None else (np.array(rng.standard_normal()) if bias == "scalar" else rng.standard_normal(O))
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, mode=mode)
    out_shape = conv2d(x, w, b, **options).outputs["output"].shape
    grad_out = rng.standard_normal(out_shape)
    return x, w, b, grad_out, options


@FD
@given(conv2d_cases())
def test_conv2d_backward_matches_finite_differences(case):
    x, w, b, grad_out, options = case

    def loss() -> float:
        return float(np.sum(grad_out * conv2d(x, w, b, **options).outputs["output"]))

    trace = conv2d_backward(x, w, grad_out, b, **options)
    rebuilt = trace.evaluate()
    for name, value in rebuilt.items():
        np.testing.assert_allclose(value, trace.outputs[name], atol=1e-9, err_msg=name)
    np.testing.assert_allclose(trace.outputs["grad_input"], numeric_gradient(loss, x, h=1e-4), atol=1e-6)
    np.testing.assert_allclose(trace.outputs["grad_weight"], numeric_gradient(loss, w, h=1e-4), atol=1e-6)
    if b is not None:
        assert np.shape(trace.outputs["grad_bias"]) == np.shape(b)
        np.testing.assert_allclose(trace.outputs["grad_bias"], numeric_gradient(loss, b, h=1e-4), atol=1e-6)
    else:
        assert "grad_bias" not in trace.outputs


def test_conv2d_backward_scalar_bias_shared_by_all_filters_collects_every_delta():
    x = np.ones((1, 3, 3))
    w = np.ones((2, 1, 2, 2))
    grad_out = np.stack([np.ones((2, 2)), 10 * np.ones((2, 2))])
    trace = conv2d_backward(x, w, grad_out, 0.5)
    assert trace.outputs["grad_bias"] == 44.0
    assert trace.steps.by_id("grad_bias").result == 44.0
    assert trace.evaluate()["grad_bias"] == 44.0


@st.composite
def conv1d_cases(draw):
    groups = draw(st.integers(1, 2))
    C, O = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = draw(st.integers(1, 4))
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)), st.just("same")))
    extra = 2 * padding if isinstance(padding, int) else (sum(padding) if isinstance(padding, tuple) else 0)
    low = max(1, dilation * (k - 1) + 1 - extra)
    L = draw(st.integers(low, low + 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((C, L))
    w = rng.standard_normal((O, C // groups, k))
    b = rng.standard_normal(O) if draw(st.booleans()) else None
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                   mode=draw(st.sampled_from(["correlation", "convolution"])))
    grad_out = rng.standard_normal(conv1d(x, w, b, **options).outputs["output"].shape)
    return x, w, b, grad_out, options


@FD
@given(conv1d_cases())
def test_conv1d_backward_matches_finite_differences(case):
    x, w, b, grad_out, options = case

    def loss() -> float:
        return float(np.sum(grad_out * conv1d(x, w, b, **options).outputs["output"]))

    trace = conv1d_backward(x, w, grad_out, b, **options)
    np.testing.assert_allclose(trace.outputs["grad_input"], numeric_gradient(loss, x, h=1e-4), atol=1e-6)
    np.testing.assert_allclose(trace.outputs["grad_weight"], numeric_gradient(loss, w, h=1e-4), atol=1e-6)
    if b is not None:
        np.testing.assert_allclose(trace.outputs["grad_bias"], numeric_gradient(loss, b, h=1e-4), atol=1e-6)


@st.composite
def pool_cases(draw):
    kind = draw(st.sampled_from(["max", "avg", "min"]))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    pads = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    H = draw(st.integers(max(1, kernel[0] - 2 * pads[0]), 6))
    W = draw(st.integers(max(1, kernel[1] - 2 * pads[1]), 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # random floats: no ties, so max and min are differentiable at x
    x = rng.standard_normal((draw(st.integers(1, 2)), H, W))
    options = dict(kind=kind, kernel_size=kernel, stride=stride, padding=pads, ceil_mode=draw(st.booleans()),
                   count_include_pad=draw(st.booleans()))
    grad_out = rng.standard_normal(pool2d(x, **options).outputs["output"].shape)
    return x, grad_out, options


@FD
@given(pool_cases())
def test_pool2d_backward_matches_finite_differences(case):
    x, grad_out, options = case

    def loss() -> float:
        return float(np.sum(grad_out * pool2d(x, **options).outputs["output"]))

    trace = pool2d_backward(x, grad_out, **options)
    np.testing.assert_allclose(trace.outputs["grad_input"], numeric_gradient(loss, x, h=1e-4), atol=1e-6)
