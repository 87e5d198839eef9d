"""batchnorm and batchnorm_backward against loops written from PyTorch's definitions.

Training: per-channel batch mean and biased variance over N, H, W normalize; the running
variance moves towards the unbiased variance. Inference: the running statistics normalize
and stay as they are. The backward is held to central finite differences of the forward.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import EngineError, batchnorm, batchnorm_backward
from engine.trace import Combine
from central_differences import numeric_gradient

FAST = settings(max_examples=30, deadline=None)
FD = settings(max_examples=20, deadline=None)


def as4(x):
    """(N, F) -> (N, F, 1, 1); (N, C, L) -> (N, C, 1, L)."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 2:
        return x[:, :, None, None]
    return x[:, :, None, :] if x.ndim == 3 else x


def naive_batchnorm(x, gamma, beta, eps, training, running_mean, running_var, momentum):
    x4 = as4(x)
    N, C, H, W = x4.shape
    y = np.zeros_like(x4)
    new_mean, new_var = np.array(running_mean, dtype=float), np.array(running_var, dtype=float)
    for c in range(C):
        values = [x4[n, c, h, w] for n in range(N) for h in range(H) for w in range(W)]
        if training:
            mean = sum(values) / len(values)
            var = sum((v - mean) ** 2 for v in values) / len(values)
            unbiased = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
            new_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean
            new_var[c] = (1 - momentum) * running_var[c] + momentum * unbiased
        else:
            mean, var = running_mean[c], running_var[c]
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    y[n, c, h, w] = gamma[c] * (x4[n, c, h, w] - mean) / math.sqrt(var + eps) + beta[c]
    return y.reshape(np.shape(x)), new_mean, new_var


def assert_rebuilds_every_output(trace):
    rebuilt = trace.evaluate()
    flat = trace.flat_outputs()
    for key, value in rebuilt.items():
        np.testing.assert_allclose(value, flat[key], rtol=1e-11, atol=1e-11, err_msg=key)
    for step in trace.steps:
        np.testing.assert_allclose(step.evaluate(), step.result, rtol=1e-11, atol=1e-11, err_msg=step.id)
    return rebuilt


@st.composite
def norm_problems(draw):
    rank = draw(st.sampled_from([2, 3, 4]))
    C = draw(st.integers(1, 3))
    N = draw(st.integers(1, 4))
    positions = {2: (), 3: (draw(st.integers(1, 4)),), 4: (draw(st.integers(1, 3)), draw(st.integers(1, 3)))}[rank]
    shape = (N, C) + positions
    training = draw(st.booleans())
    if training and N * int(np.prod(positions, dtype=int)) == 1:
        shape = (2, C) + positions
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return dict(x=rng.standard_normal(shape) * 3 + 1, gamma=rng.standard_normal(C), beta=rng.standard_normal(C),
                running_mean=rng.standard_normal(C), running_var=rng.uniform(0.1, 3, C),
                eps=draw(st.sampled_from([1e-5, 1e-3, 0.5])), momentum=draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
                training=training)


@FAST
@given(norm_problems())
def test_batchnorm_matches_the_definition_in_training_and_inference(p):
    expected, mean, var = naive_batchnorm(p["x"], p["gamma"], p["beta"], p["eps"], p["training"],
                                          p["running_mean"], p["running_var"], p["momentum"])
    trace = batchnorm(p["x"], p["gamma"], p["beta"], eps=p["eps"], training=p["training"],
                      running_mean=p["running_mean"], running_var=p["running_var"], momentum=p["momentum"])
    assert trace.outputs["output"].shape == p["x"].shape
    np.testing.assert_allclose(trace.outputs["output"], expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(trace.outputs["running_mean"], mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trace.outputs["running_var"], var, rtol=1e-12, atol=1e-12)
    rebuilt = assert_rebuilds_every_output(trace)
    if p["training"]:
        assert set(rebuilt) == {"mean", "var", "inv_std", "x_hat", "output", "running_mean", "running_var"}
    else:
        assert set(rebuilt) == {"inv_std", "x_hat", "output"}
        np.testing.assert_array_equal(trace.outputs["running_mean"], p["running_mean"])


def test_batchnorm_2d_worked_numbers_and_unbiased_running_variance():
    x = [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]
    trace = batchnorm(x, [1.0, 2.0], [0.0, 0.5])
    np.testing.assert_allclose(trace.intermediates["mean"], [3.0, 4.0])
    np.testing.assert_allclose(trace.intermediates["var"], [5.0, 5.0])
    # unbiased: 20/3; running_var = 0.9(1) + 0.1(20/3)
    np.testing.assert_allclose(trace.outputs["running_var"], [0.9 + 2 / 3] * 2)
    np.testing.assert_allclose(trace.outputs["running_mean"], [0.3, 0.4])
    steps = trace.steps
    assert steps.by_id("mean[0]").expansion == r"\mu_{1} = \frac{0 + 2 + 4 + 6}{4} = 3"
    assert steps.by_id("mean[0]").combine is Combine.MEAN and steps.by_id("mean[0]").divisor == 4
    assert steps.by_id("var[1]").expansion == (r"\sigma^2_{2} = \frac{(1 - 4)^2 + (3 - 4)^2 + (5 - 4)^2 + (7 - 4)^2}"
                                               r"{4} = 5")
    inv = steps.by_id("inv_std[0]")
    assert inv.combine is Combine.APPLY and inv.function == "rsqrt"
    assert inv.expansion == r"s_{1} = \frac{1}{\sqrt{5 + 1 \times 10^{-5}}} = 0.447213"
    assert steps.by_id("x_hat[3,0]").expansion == r"\hat x_{4,1} = (6 - 3)(0.447213) = 1.34164"
    assert steps.by_id("output[0,1]").expansion == r"y_{1,2} = 2(-1.34164) + 0.5 = -2.18328"
    assert steps.by_id("running_var[0]").expansion == (r"\sigma^{2,\mathrm{run}}_{1} = 0.9(1) + 0.1 \cdot "
                                                       r"\frac{4}{3}(5) = 1.56667")
    assert [s.id for s in steps][:4] == ["mean[0]", "mean[1]", "var[0]", "var[1]"]
    assert [s.id for s in steps][-4:] == ["running_mean[0]", "running_mean[1]", "running_var[0]", "running_var[1]"]


def test_batchnorm_4d_statistics_are_per_channel_over_batch_and_positions():
    x = np.zeros((2, 2, 2, 2))
    x[:, 0] = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    x[:, 1] = 10.0
    trace = batchnorm(x)
    np.testing.assert_allclose(trace.intermediates["mean"], [4.5, 10.0])
    np.testing.assert_allclose(trace.intermediates["var"], [5.25, 0.0])
    # a constant channel normalizes to 0 (eps keeps the division finite)
    np.testing.assert_allclose(trace.outputs["output"][:, 1], 0.0)
    assert trace.steps.by_id("x_hat[1,0,1,1]").title == "x̂(2,1,2,2)"
    assert trace.steps.by_id("mean[0]").message.startswith("Average the 8 values of channel 1")


def test_batchnorm_inference_uses_the_running_statistics_and_leaves_them_alone():
    trace = batchnorm([[0.0, 1.0], [2.0, 5.0]], training=False, running_mean=[1.0, 2.0], running_var=[4.0, 9.0],
                      eps=0.0001)
    np.testing.assert_allclose(trace.outputs["output"], [[-1 / math.sqrt(4.0001), -1 / math.sqrt(9.0001)],
                                                         [1 / math.sqrt(4.0001), 3 / math.sqrt(9.0001)]])
    np.testing.assert_array_equal(trace.outputs["running_mean"], [1.0, 2.0])
    np.testing.assert_array_equal(trace.outputs["running_var"], [4.0, 9.0])
    assert [s.id for s in trace.steps][:2] == ["inv_std[0]", "inv_std[1]"]
    assert trace.steps[0].terms[0].factors[0].tensor == "running_var"
    assert any("not updated" in note for note in trace.notes)


def test_batchnorm_inference_accepts_a_single_sample():
    trace = batchnorm([[3.0]], training=False)
    assert trace.outputs["output"][0, 0] == pytest.approx(3 / math.sqrt(1 + 1e-5))


def test_long_channel_sums_are_cut_in_the_expansion():
    x = np.arange(200.0).reshape(100, 2)
    trace = batchnorm(x)
    mean = trace.steps.by_id("mean[0]")
    assert len(mean.terms) == 100
    assert "more" in mean.expansion and mean.expansion.endswith("= 99")
    assert "more" in batchnorm_backward(x, None, None, np.ones_like(x)).steps.by_id("grad_bias[1]").expansion


@st.composite
def backward_problems(draw):
    rank = draw(st.sampled_from([2, 3, 4]))
    C = draw(st.integers(1, 3))
    positions = {2: (), 3: (draw(st.integers(1, 3)),), 4: (draw(st.integers(1, 2)), draw(st.integers(1, 3)))}[rank]
    shape = (draw(st.integers(2, 3)), C) + positions
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return (rng.standard_normal(shape), rng.standard_normal(C), rng.standard_normal(C), rng.standard_normal(shape),
            draw(st.sampled_from([1e-5, 0.1])))


@FD
@given(backward_problems())
def test_batchnorm_backward_matches_finite_differences(problem):
    x, gamma, beta, grad_out, eps = problem

    def loss() -> float:
        return float(np.sum(grad_out * batchnorm(x, gamma, beta, eps=eps).outputs["output"]))

    trace = batchnorm_backward(x, gamma, beta, grad_out, eps=eps)
    np.testing.assert_allclose(trace.outputs["grad_input"], numeric_gradient(loss, x, h=1e-5), atol=1e-5)
    np.testing.assert_allclose(trace.outputs["grad_weight"], numeric_gradient(loss, gamma, h=1e-5), atol=1e-5)
    np.testing.assert_allclose(trace.outputs["grad_bias"], numeric_gradient(loss, beta, h=1e-5), atol=1e-5)
    rebuilt = assert_rebuilds_every_output(trace)
    assert set(rebuilt) == {"grad_input", "grad_weight", "grad_bias"}


def test_batchnorm_backward_steps_read_the_two_channel_sums():
    x = [[1.0], [2.0], [4.0], [5.0]]
    trace = batchnorm_backward(x, [2.0], [0.0], [[1.0], [0.0], [0.0], [-1.0]])
    assert [s.id for s in trace.steps] == ["grad_bias[0]", "grad_weight[0]", "grad_input[0,0]", "grad_input[1,0]",
                                           "grad_input[2,0]", "grad_input[3,0]"]
    assert trace.outputs["grad_bias"][0] == 0.0
    step = trace.steps.by_id("grad_input[0,0]")
    assert [f.tensor for f in step.terms[1].factors] == ["-gamma*inv_std/n", "grad_bias"]
    assert [f.tensor for f in step.terms[2].factors] == ["-gamma*inv_std/n", "x_hat", "grad_weight"]
    assert step.expansion.startswith(r"\frac{\partial L}{\partial x_{1,1}} = 2(0.632454)(1) - 0.316227(0) - ")
    # mean 3, var 2.5: x_hat = (-2, -1, 1, 2)/sqrt(2.5); sum of delta x_hat = -4/sqrt(2.5)
    np.testing.assert_allclose(trace.outputs["grad_weight"], [-4 / math.sqrt(2.5 + 1e-5)])


BAD = [
    ("gamma", lambda: batchnorm(np.ones((2, 3)), gamma=[1.0, 1.0]), "expected 3 numbers, one per feature, got 2"),
    ("beta", lambda: batchnorm(np.ones((2, 3, 2, 2)), beta=[[0.0, 0.0, 0.0]]), "expected 1 dimensions"),
    ("running_mean", lambda: batchnorm(np.ones((2, 3)), running_mean=[0.0]), "one per feature"),
    ("running_var", lambda: batchnorm(np.ones((2, 2)), training=False, running_var=[1.0, -1.0]), "negative"),
    ("eps", lambda: batchnorm(np.ones((2, 2)), eps=0), "above 0"),
    ("momentum", lambda: batchnorm(np.ones((2, 2)), momentum=1.5), "between 0 and 1"),
    ("input", lambda: batchnorm(np.ones((1, 3))), "more than 1 value per feature"),
    ("input", lambda: batchnorm(np.ones((1, 2, 1, 1))), "more than 1 value per channel"),
    ("input", lambda: batchnorm([1.0, 2.0]), "expected 2 or 3 or 4 dimensions"),
    ("grad_output", lambda: batchnorm_backward(np.ones((2, 2)), None, None, np.ones((2, 3))), "input's shape"),
    ("gamma", lambda: batchnorm_backward(np.ones((2, 2)), [1.0], None, np.ones((2, 2))), "one per feature"),
]


@pytest.mark.parametrize("argument, call, words", BAD, ids=[f"{a}-{w}" for a, _, w in BAD])
def test_bad_input_is_refused_naming_the_argument(argument, call, words):
    with pytest.raises(EngineError) as info:
        call()
    assert info.value.argument == argument
    assert words in info.value.problem


def test_the_callers_arrays_are_never_modified():
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    running_mean, running_var = np.zeros(2), np.ones(2)
    batchnorm(x, running_mean=running_mean, running_var=running_var)
    np.testing.assert_array_equal(x, [[1.0, 2.0], [3.0, 5.0]])
    np.testing.assert_array_equal(running_mean, [0.0, 0.0])
    np.testing.assert_array_equal(running_var, [1.0, 1.0])
