"""dense, dense_backward and flatten against loops written from their definitions.

y_j = sum_i W[j][i] x_i + b_j, one product at a time; flatten walks (C, H, W) in row-major order;
the backward is held to central differences of the forward.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.trace
from engine import EngineError, dense, dense_backward, flatten
from engine.trace import Combine, StepKind
from central_differences import numeric_gradient

FAST = settings(max_examples=30, deadline=None)


# ---------------------------------------------------------------- references (plain loops)

def reference_dense(x: np.ndarray, w: np.ndarray, b) -> np.ndarray:
    """x (in,) or (N, in); w (out, in); b (out,), one number or None."""
    out, features = w.shape
    samples = x if x.ndim == 2 else x[None]
    y = np.zeros((samples.shape[0], out))
    for n in range(samples.shape[0]):
        for j in range(out):
            total = 0.0
            for i in range(features):
                total += w[j, i] * samples[n, i]
            if b is not None:
                total += float(b) if np.ndim(b) == 0 else b[j]
            y[n, j] = total
    return y if x.ndim == 2 else y[0]


def reference_flatten(x: np.ndarray) -> np.ndarray:
    """(C, H, W) -> C*H*W values, channel by channel, row by row; (N, C, H, W) keeps N."""
    def one(sample: np.ndarray) -> list[float]:
        values = []
        for c in range(sample.shape[0]):
            for h in range(sample.shape[1]):
                for w in range(sample.shape[2]):
                    values.append(float(sample[c, h, w]))
        return values

    if x.ndim == 4:
        return np.array([one(sample) for sample in x])
    return np.array(one(x))


def assert_evaluate_matches_flat_outputs(trace, main: set[str]) -> None:
    rebuilt = trace.evaluate()
    reference = trace.flat_outputs()
    assert main <= set(rebuilt)
    for key, value in rebuilt.items():
        np.testing.assert_allclose(np.asarray(value, dtype=float), np.asarray(reference[key], dtype=float),
                                   atol=1e-12, err_msg=key)


# ---------------------------------------------------------------- problem generators

@st.composite
def dense_problems(draw):
    features, out = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    batch = draw(st.sampled_from([None, 1, 3]))
    bias = draw(st.sampled_from([None, "number", "vector"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((features,) if batch is None else (batch, features))
    w = rng.standard_normal((out, features))
    b = None if bias is None else (float(rng.standard_normal()) if bias == "number" else rng.standard_normal(out))
    return x, w, b


# ---------------------------------------------------------------- dense forward

@FAST
@given(dense_problems())
def test_dense_matches_the_definition_for_single_samples_and_batches(problem):
    x, w, b = problem
    trace = dense(x, w, b)
    expected = reference_dense(x, w, b)
    assert trace.outputs["output"].shape == expected.shape
    np.testing.assert_allclose(trace.outputs["output"], expected, atol=1e-12)
    assert len(trace.steps) == expected.size
    step = trace.steps[-1]
    assert len(step.terms) == w.shape[1] + (b is not None)
    assert step.kind is StepKind.MULTIPLY_ADD
    assert_evaluate_matches_flat_outputs(trace, {"output"})


def test_dense_bias_as_one_number_is_added_to_every_neuron():
    trace = dense([1.0, 2.0], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], 0.5)
    np.testing.assert_array_equal(trace.outputs["output"], [1.5, 2.5, 3.5])
    np.testing.assert_array_equal(trace.inputs["bias"], [0.5, 0.5, 0.5])


def test_dense_batch_row_n_is_sample_n():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 3.0]])
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    trace = dense(x, w, [10.0, 20.0])
    np.testing.assert_array_equal(trace.outputs["output"], [[11, 23], [12, 24], [18, 38]])
    step = trace.steps.by_id("output[2,1]")
    assert step.expansion == "y_{3,2} = 3(2) + 4(3) + 20 = 38"
    assert step.reads == {"input": [(2, 0), (2, 1)], "weight": [(1, 0), (1, 1)], "bias": [(1,)]}


def test_seed000_dense_layer_gives_2_9():
    trace = dense([4, 0, 4, 3], [[0.2, -0.5, 0.4, 0.1]], [0.2])
    np.testing.assert_allclose(trace.outputs["output"], [0.2 * 4 - 0.5 * 0 + 0.4 * 4 + 0.1 * 3 + 0.2])
    step = trace.steps[0]
    assert step.id == "output[0]" and step.result == pytest.approx(2.9)
    assert step.expansion == "y_{1} = 0.2(4) + (-0.5)(0) + 0.4(4) + 0.1(3) + 0.2 = 2.9"
    assert [t.value for t in step.terms] == pytest.approx([0.8, 0.0, 1.6, 0.3, 0.2])
    assert step.evaluate() == pytest.approx(2.9)


# ---------------------------------------------------------------- dense backward

@FAST
@given(dense_problems(), st.integers(0, 2**32 - 1))
def test_dense_backward_matches_finite_differences(problem, seed):
    x, w, b = problem
    if b is not None:
        b = np.atleast_1d(np.asarray(b, dtype=float)) * np.ones(w.shape[0])   # one number per neuron
    grad_out = np.random.default_rng(seed).standard_normal(dense(x, w, b).outputs["output"].shape)

    def loss() -> float:
        return float(np.sum(grad_out * dense(x, w, b).outputs["output"]))

    trace = dense_backward(x, w, grad_out, b)
    np.testing.assert_allclose(trace.outputs["grad_input"], numeric_gradient(loss, x, h=1e-5), atol=1e-8)
    np.testing.assert_allclose(trace.outputs["grad_weight"], numeric_gradient(loss, w, h=1e-5), atol=1e-8)
    if b is not None:
        np.testing.assert_allclose(trace.outputs["grad_bias"], numeric_gradient(loss, b, h=1e-5), atol=1e-8)
    else:
        assert "grad_bias" not in trace.outputs
    assert_evaluate_matches_flat_outputs(trace, set(trace.outputs))


def test_dense_backward_bias_as_one_number_collects_every_delta():
    x, w, g = np.array([1.0, 2.0]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 2.0, 3.0])
    b = np.array(0.5)

    def loss() -> float:
        return float(np.sum(g * dense(x, w, b).outputs["output"]))

    trace = dense_backward(x, w, g, b)
    assert np.shape(trace.outputs["grad_bias"]) == ()
    assert trace.outputs["grad_bias"] == pytest.approx(float(numeric_gradient(loss, b, h=1e-5)))


def test_seed000_dense_backward_with_delta_2_9():
    trace = dense_backward([4, 0, 4, 3], [[0.2, -0.5, 0.4, 0.1]], [2.9], [0.2])
    np.testing.assert_allclose(trace.outputs["grad_weight"], [[11.6, 0.0, 11.6, 8.7]], atol=1e-12)
    np.testing.assert_allclose(trace.outputs["grad_bias"], [2.9])
    np.testing.assert_allclose(trace.outputs["grad_input"], [0.58, -1.45, 1.16, 0.29], atol=1e-12)
    steps = trace.steps
    assert [s.id for s in steps[:5]] == ["grad_weight[0,0]", "grad_weight[0,1]", "grad_weight[0,2]",
                                         "grad_weight[0,3]", "grad_bias[0]"]
    assert steps[0].expansion == r"\frac{\partial L}{\partial W_{1,1}} = 2.9(4) = 11.6"
    assert steps[3].expansion == r"\frac{\partial L}{\partial W_{1,4}} = 2.9(3) = 8.7"
    # the one-neuron layer also takes δ as a plain number
    same = dense_backward([4, 0, 4, 3], [[0.2, -0.5, 0.4, 0.1]], 2.9, [0.2])
    np.testing.assert_allclose(same.outputs["grad_weight"], trace.outputs["grad_weight"])


def test_dense_backward_batch_adds_every_samples_weight_gradient():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    g = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    trace = dense_backward(x, w, g, [0.0, 0.0, 0.0])
    # dL/dW[j, i] = sum_n g[n, j] x[n, i]
    np.testing.assert_array_equal(trace.outputs["grad_weight"], [[1 + 12, 2 + 16], [2 + 15, 4 + 20], [3 + 18, 6 + 24]])
    np.testing.assert_array_equal(trace.outputs["grad_bias"], [5, 7, 9])
    np.testing.assert_array_equal(trace.outputs["grad_input"], [[4, 5], [10, 11]])
    step = trace.steps.by_id("grad_weight[2,1]")
    assert step.expansion == r"\frac{\partial L}{\partial W_{3,2}} = 3(2) + 6(4) = 30"
    assert any("batch" in note for note in trace.notes)


# ---------------------------------------------------------------- flatten

@st.composite
def feature_maps(draw):
    rank = draw(st.sampled_from([3, 4]))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.integers(-9, 10, size=shape).astype(float)


@FAST
@given(feature_maps())
def test_flatten_is_row_major_over_channel_row_column(x):
    trace = flatten(x)
    expected = reference_flatten(x)
    np.testing.assert_array_equal(trace.outputs["output"], expected)
    assert len(trace.steps) == expected.size
    assert_evaluate_matches_flat_outputs(trace, {"output"})
    step = trace.steps[-1]
    assert step.kind is StepKind.RESHAPE
    assert step.reads["input"] == [tuple(k - 1 for k in x.shape)]


def test_flatten_names_where_each_cell_lands():
    x = np.arange(12.0).reshape(2, 2, 3)        # C=2, H=2, W=3
    trace = flatten(x)
    np.testing.assert_array_equal(trace.outputs["output"], np.arange(12.0))
    step = trace.steps.by_id("output[10]")     # channel 1, row 1, column 1 (from 0): 1*6 + 1*3 + 1
    assert step.title == "p(11) = x(2,2,2)"
    assert step.reads["input"] == [(1, 1, 1)] and step.result == 10.0
    assert "1·6 + 1·3 + 1 = 10" in step.message


def test_flatten_keeps_the_batch_axis_and_flattens_a_matrix_by_rows():
    batch = np.arange(24.0).reshape(2, 3, 2, 2)
    out = flatten(batch).outputs["output"]
    assert out.shape == (2, 12)
    np.testing.assert_array_equal(out[1], np.arange(12.0, 24.0))
    np.testing.assert_array_equal(flatten([[1, 2], [3, 4]]).outputs["output"], [1, 2, 3, 4])


def test_flatten_then_dense_is_dense_on_the_row_major_vector():
    x = np.arange(8.0).reshape(2, 2, 2)
    w = np.arange(16.0).reshape(2, 8) / 10
    y = dense(flatten(x).outputs["output"], w).outputs["output"]
    expected = [sum(w[j, c * 4 + h * 2 + q] * x[c, h, q] for c in range(2) for h in range(2) for q in range(2))
                for j in range(2)]
    np.testing.assert_allclose(y, expected)


# ---------------------------------------------------------------- laziness

def test_steps_are_counted_without_building_them_and_built_one_at_a_time(monkeypatch):
    built = []
    original = engine.trace.Segment.step

    def counting(self, i, digits):
        built.append(i)
        return original(self, i, digits)

    monkeypatch.setattr(engine.trace.Segment, "step", counting)
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal(300), rng.standard_normal((2000, 300)), rng.standard_normal(2000)
    trace = dense(x, w, b)
    assert len(trace.steps) == 2000
    assert built == []
    step = trace.steps[1234]
    assert built == [1234]
    assert step.id == "output[1234]" and len(step.terms) == 300 + 1
    assert step.result == pytest.approx(float(sum(w[1234, i] * x[i] for i in range(300)) + b[1234]))
    backward = dense_backward(x, w, rng.standard_normal(2000), b)
    assert len(backward.steps) == 2000 * 300 + 2000 + 300
    assert backward.steps.by_id("grad_input[299]").id == "grad_input[299]"
    assert len(built) == 2


# ---------------------------------------------------------------- the trace rebuilds every output

RNG = np.random.default_rng(20240611)

TRACES = [
    ("dense single", lambda: dense(RNG.standard_normal(4), RNG.standard_normal((3, 4))), {"output"}),
    ("dense batch bias", lambda: dense(RNG.standard_normal((2, 4)), RNG.standard_normal((3, 4)), 0.5), {"output"}),
    ("dense_backward single", lambda: dense_backward(RNG.standard_normal(4), RNG.standard_normal((3, 4)),
                                                     RNG.standard_normal(3), RNG.standard_normal(3)),
     {"grad_input", "grad_weight", "grad_bias"}),
    ("dense_backward batch no bias", lambda: dense_backward(RNG.standard_normal((2, 4)), RNG.standard_normal((3, 4)),
                                                            RNG.standard_normal((2, 3))),
     {"grad_input", "grad_weight"}),
    ("flatten", lambda: flatten(RNG.standard_normal((2, 3, 2))), {"output"}),
    ("flatten batch", lambda: flatten(RNG.standard_normal((2, 2, 2, 2))), {"output"}),
]


@pytest.mark.parametrize("name, make, main", TRACES, ids=[t[0] for t in TRACES])
def test_evaluate_equals_flat_outputs_for_dense_and_flatten(name, make, main):
    trace = make()
    assert_evaluate_matches_flat_outputs(trace, main)
    for step in trace.steps:
        if step.combine is not Combine.VALUE:
            np.testing.assert_allclose(step.evaluate(), step.result, atol=1e-12, err_msg=step.id)


@pytest.mark.parametrize("name, make, main", TRACES, ids=[t[0] for t in TRACES])
def test_step_titles_messages_and_notes_are_plain_text(name, make, main):
    trace = make()
    for step in trace.steps:
        for text in (step.title, step.message):
            assert "\\" not in text and "$" not in text, (step.id, text)
    for note in trace.notes:
        assert "\\" not in note, note


# ---------------------------------------------------------------- bad input

def _error(call) -> EngineError:
    with pytest.raises(EngineError) as caught:
        call()
    return caught.value


def test_weight_in_the_wrong_orientation_suggests_the_transpose():
    error = _error(lambda: dense([1.0, 2.0, 3.0, 4.0], np.ones((4, 2))))
    assert error.argument == "weight"
    assert "transpose (2, 4)" in str(error)
    error = _error(lambda: dense([1.0, 2.0, 3.0], np.ones((2, 4))))
    assert error.argument == "weight" and "transpose" not in str(error)
    assert _error(lambda: dense_backward([1.0, 2.0], np.ones((2, 3)), [1.0, 1.0, 1.0])).argument == "weight"


def test_dense_backward_grad_output_of_the_wrong_shape_is_refused():
    error = _error(lambda: dense_backward([1.0, 2.0], np.ones((3, 2)), [1.0, 1.0]))
    assert error.argument == "grad_output" and "(3,)" in str(error)
    assert _error(lambda: dense_backward(np.ones((2, 2)), np.ones((3, 2)), np.ones(3))).argument == "grad_output"


def test_bias_of_the_wrong_length_is_refused():
    assert _error(lambda: dense([1.0, 2.0], np.ones((3, 2)), [1.0, 2.0])).argument == "bias"


def test_nan_and_ragged_lists_are_refused_with_their_position():
    error = _error(lambda: dense([1.0, 2.0], [[1.0, 2.0], [math.nan, 0.0]]))
    assert error.argument == "weight" and error.location == (1, 0)
    error = _error(lambda: dense([[1.0, 2.0], [3.0]], np.ones((1, 2))))
    assert error.argument == "input" and error.location == (1,)
    assert _error(lambda: flatten(np.ones((1, 1, 1, 1, 1)))).argument == "input"
    error = _error(lambda: flatten([[[1.0, math.inf]]]))
    assert error.argument == "input" and error.location == (0, 0, 1)
