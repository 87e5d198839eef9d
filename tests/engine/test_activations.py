"""Activations against loops written from their definitions, backward against central differences.

The references below use only ``math``: they walk every cell (every row, for softmax) one at a time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.activations
from engine import EngineError, activation, activation_backward
from engine.trace import Combine, StepKind
from central_differences import numeric_gradient

FAST = settings(max_examples=30, deadline=None)
ELEMENTWISE = ("relu", "leaky_relu", "relu6", "sigmoid", "tanh")
FUNCTIONS = ELEMENTWISE + ("softmax",)


# ---------------------------------------------------------------- references (plain loops)

def reference_cell(function: str, v: float, alpha: float) -> float:
    if function == "relu":
        return v if v > 0 else 0.0
    if function == "leaky_relu":
        return v if v > 0 else alpha * v
    if function == "relu6":
        return 0.0 if v <= 0 else (6.0 if v >= 6 else v)
    if function == "sigmoid":
        return 1.0 / (1.0 + math.exp(-v))
    return math.tanh(v)


def reference_elementwise(function: str, x: np.ndarray, alpha: float) -> np.ndarray:
    out = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        out[index] = reference_cell(function, float(x[index]), alpha)
    return out


def reference_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    """p_i = e^{z_i} / sum_j e^{z_j} along ``dim``, with no shift (the inputs here are moderate)."""
    dim %= x.ndim
    out = np.zeros(x.shape)
    row_shape = x.shape[:dim] + x.shape[dim + 1:]
    for row in np.ndindex(row_shape):
        cells = [row[:dim] + (k,) + row[dim:] for k in range(x.shape[dim])]
        total = sum(math.exp(x[c]) for c in cells)
        for c in cells:
            out[c] = math.exp(x[c]) / total
    return out


def reference_jacobians(x: np.ndarray, dim: int) -> np.ndarray:
    """J[row..., i, j] = p_i (1[i=j] - p_j) for every row along ``dim``."""
    dim %= x.ndim
    p = reference_softmax(x, dim)
    C = x.shape[dim]
    row_shape = x.shape[:dim] + x.shape[dim + 1:]
    jac = np.zeros(row_shape + (C, C))
    for row in np.ndindex(row_shape):
        for i in range(C):
            for j in range(C):
                pi, pj = p[row[:dim] + (i,) + row[dim:]], p[row[:dim] + (j,) + row[dim:]]
                jac[row + (i, j)] = pi * ((1.0 if i == j else 0.0) - pj)
    return jac


def assert_evaluate_matches_flat_outputs(trace, main: set[str]) -> None:
    rebuilt = trace.evaluate()
    reference = trace.flat_outputs()
    assert main <= set(rebuilt)
    for key, value in rebuilt.items():
        np.testing.assert_allclose(np.asarray(value, dtype=float), np.asarray(reference[key], dtype=float),
                                   atol=1e-12, err_msg=key)


# ---------------------------------------------------------------- problem generators

@st.composite
def shapes(draw, ranks=(0, 1, 2, 3, 4)):
    rank = draw(st.sampled_from(ranks))
    return tuple(draw(st.integers(1, 3)) for _ in range(rank))


@st.composite
def inputs_with_kinks(draw, ranks=(0, 1, 2, 3, 4)):
    """Random values in [-8, 8] with some cells set exactly on 0, 6 or -6."""
    shape = draw(shapes(ranks))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-8, 8, size=shape)
    kinks = rng.random(size=shape) < 0.3
    x = np.where(kinks, rng.choice([0.0, 6.0, -6.0], size=shape), x)
    return np.asarray(x, dtype=float)


@st.composite
def smooth_inputs(draw, ranks=(0, 1, 2, 3, 4)):
    """Random values in [-8, 8] at least 0.1 away from the kinks 0 and 6."""
    shape = draw(shapes(ranks))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(0.1, 8, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    x = np.where(np.abs(x - 6) < 0.1, x + 0.5, x)
    return np.asarray(x, dtype=float), rng.standard_normal(shape)


# ---------------------------------------------------------------- forward by the definition

@FAST
@given(inputs_with_kinks(), st.sampled_from(ELEMENTWISE), st.sampled_from([0.01, 0.2, 1.5]))
def test_elementwise_activations_match_the_definition_on_any_rank(x, function, alpha):
    trace = activation(x, function=function, alpha=alpha)
    expected = reference_elementwise(function, x, alpha)
    assert trace.outputs["output"].shape == x.shape
    np.testing.assert_allclose(trace.outputs["output"], expected, rtol=1e-12, atol=1e-12)
    assert len(trace.steps) == x.size
    assert_evaluate_matches_flat_outputs(trace, {"output"})


@st.composite
def softmax_problems(draw):
    shape = draw(shapes((1, 2, 3, 4)))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.uniform(-5, 5, size=shape), dim


@FAST
@given(softmax_problems())
def test_softmax_matches_the_definition_along_any_dim(problem):
    x, dim = problem
    trace = activation(x, function="softmax", dim=dim)
    expected = reference_softmax(x, dim)
    np.testing.assert_allclose(trace.outputs["output"], expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(trace.outputs["output"].sum(axis=dim), 1.0, atol=1e-12)
    assert trace.params["dim"] == dim % x.ndim
    np.testing.assert_allclose(trace.intermediates["max"], x.max(axis=dim))
    rows = x.size // x.shape[dim]
    assert len(trace.steps) == rows + x.size + rows + x.size   # max, exp, sum per row; one p per cell
    assert_evaluate_matches_flat_outputs(trace, {"output", "max", "exp", "sum"})


def test_softmax_along_the_first_axis_normalises_columns():
    x = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]])
    out = activation(x, function="softmax", dim=0).outputs["output"]
    e = math.exp(1.0)
    np.testing.assert_allclose(out[:, 0], [0.5, 0.5])
    np.testing.assert_allclose(out[:, 1], [e * e / (e * e + 1), 1 / (e * e + 1)])
    np.testing.assert_allclose(out[:, 2], [0.5, 0.5])


# ---------------------------------------------------------------- softmax steps

def test_softmax_steps_shift_by_the_max_then_exponentiate_sum_and_divide():
    trace = activation([2.0, 1.0, 0.1], function="softmax")
    steps = trace.steps
    assert [s.id for s in steps] == ["max", "exp[0]", "exp[1]", "exp[2]", "sum",
                                     "output[0]", "output[1]", "output[2]"]
    assert [s.kind for s in steps[:2]] == [StepKind.REDUCE, StepKind.ELEMENTWISE]
    assert steps[0].result == 2.0 and steps[0].combine is Combine.MAX
    assert steps[0].expansion == r"m = \max(2, 1, 0.1) = 2"
    assert steps[2].expansion == "e^{1 - 2} = e^{-1} = 0.367879"
    assert steps[2].result == pytest.approx(math.exp(-1))
    assert steps[4].result == pytest.approx(1 + math.exp(-1) + math.exp(-1.9))
    assert steps[5].expansion == r"p_{1} = \frac{1}{1.51745} = 0.659001"


def test_softmax_of_a_matrix_names_its_rows():
    steps = activation(np.zeros((2, 3)), function="softmax").steps
    assert [s.id for s in steps[:3]] == ["max[0]", "max[1]", "exp[0,0]"]
    assert steps.by_id("sum[1]").target == ("sum", (1,))
    assert steps.by_id("output[1,2]").result == pytest.approx(1 / 3)


def test_softmax_of_large_scores_is_finite_and_exact():
    trace = activation([1000.0, 1001.0, 1002.0], function="softmax")
    out = trace.outputs["output"]
    assert np.all(np.isfinite(out))
    total = math.exp(-2) + math.exp(-1) + 1.0
    np.testing.assert_allclose(out, [math.exp(-2) / total, math.exp(-1) / total, 1 / total], rtol=1e-14)
    np.testing.assert_allclose(trace.intermediates["exp"], [math.exp(-2), math.exp(-1), 1.0])
    assert trace.steps.by_id("exp[2]").expansion == "e^{1002 - 1002} = e^{0} = 1"
    assert any("overflow" in note for note in trace.notes)
    assert_evaluate_matches_flat_outputs(trace, {"output"})
    grad = activation_backward([1000.0, 1001.0, 1002.0], [1.0, 0.0, 0.0], function="softmax")
    assert np.all(np.isfinite(grad.outputs["grad_input"]))


def test_seed001_softmax_of_2_1_01():
    out = activation([2.0, 1.0, 0.1], function="softmax").outputs["output"]
    e2, e1, e01 = math.exp(2.0), math.exp(1.0), math.exp(0.1)
    total = e2 + e1 + e01
    np.testing.assert_allclose(out, [e2 / total, e1 / total, e01 / total], rtol=1e-14)
    np.testing.assert_allclose(out, [0.659, 0.242, 0.0986], atol=5e-4)
    # the seed prints 0.66, 0.24, 0.10: the same numbers to two places
    np.testing.assert_array_equal(np.round(out, 2), [0.66, 0.24, 0.10])


# ---------------------------------------------------------------- backward by finite differences

@FAST
@given(smooth_inputs(), st.sampled_from(ELEMENTWISE), st.sampled_from([0.01, 0.3]))
def test_elementwise_backward_matches_finite_differences(case, function, alpha):
    x, grad_out = case

    def loss() -> float:
        return float(np.sum(grad_out * activation(x, function=function, alpha=alpha).outputs["output"]))

    trace = activation_backward(x, grad_out, function=function, alpha=alpha)
    np.testing.assert_allclose(trace.outputs["grad_input"], numeric_gradient(loss, x, h=1e-5), atol=1e-7)
    assert_evaluate_matches_flat_outputs(trace, {"grad_input"})


@FAST
@given(softmax_problems(), st.integers(0, 2**32 - 1))
def test_softmax_backward_matches_finite_differences(problem, seed):
    x, dim = problem
    grad_out = np.random.default_rng(seed).standard_normal(x.shape)

    def loss() -> float:
        return float(np.sum(grad_out * activation(x, function="softmax", dim=dim).outputs["output"]))

    trace = activation_backward(x, grad_out, function="softmax", dim=dim)
    np.testing.assert_allclose(trace.outputs["grad_input"], numeric_gradient(loss, x, h=1e-5), atol=1e-7)
    assert_evaluate_matches_flat_outputs(trace, {"grad_input", "output"})
    if x.shape[dim] <= engine.activations.JACOBIAN_LIMIT:
        np.testing.assert_allclose(trace.intermediates["jacobian"], reference_jacobians(x, dim), atol=1e-15)


# ---------------------------------------------------------------- softmax backward: Jacobian or short form

def test_softmax_backward_writes_the_jacobian_for_up_to_eight_classes():
    x = np.array([0.5, -1.0, 2.0])
    g = np.array([1.0, -2.0, 0.5])
    trace = activation_backward(x, g, function="softmax")
    p = reference_softmax(x, -1)
    jac = trace.intermediates["jacobian"]
    assert jac.shape == (3, 3) and "dot" not in trace.intermediates
    for i in range(3):
        for j in range(3):
            assert jac[i, j] == pytest.approx(p[i] * ((i == j) - p[j]), abs=1e-15)
    ids = [s.id for s in trace.steps]
    assert "jacobian[0,1]" in ids and ids[-3:] == ["grad_input[0]", "grad_input[1]", "grad_input[2]"]
    step = trace.steps.by_id("grad_input[1]")
    assert step.result == pytest.approx(sum(jac[j, 1] * g[j] for j in range(3)))
    assert len(step.terms) == 3
    assert activation_backward(np.zeros(8), np.ones(8), function="softmax").intermediates["jacobian"].shape == (8, 8)


def test_softmax_backward_above_eight_classes_uses_the_short_form():
    rng = np.random.default_rng(3)
    x, g = rng.standard_normal((2, 9)), rng.standard_normal((2, 9))
    trace = activation_backward(x, g, function="softmax")
    assert "jacobian" not in trace.intermediates
    p = reference_softmax(x, -1)
    for n in range(2):
        s = sum(g[n, j] * p[n, j] for j in range(9))
        assert trace.intermediates["dot"][n] == pytest.approx(s)
        for i in range(9):
            assert trace.outputs["grad_input"][n, i] == pytest.approx(p[n, i] * (g[n, i] - s), abs=1e-15)
    assert trace.steps.by_id("dot[1]").kind is StepKind.MULTIPLY_ADD
    assert trace.steps.by_id("jacobian[0,0,0]") is None


def test_softmax_backward_jacobian_and_short_form_give_the_same_gradient(monkeypatch):
    rng = np.random.default_rng(11)
    x, g = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    with_jacobian = activation_backward(x, g, function="softmax", dim=0)
    assert "jacobian" in with_jacobian.intermediates
    monkeypatch.setattr(engine.activations, "JACOBIAN_LIMIT", 1)
    short = activation_backward(x, g, function="softmax", dim=0)
    assert "jacobian" not in short.intermediates and "dot" in short.intermediates
    np.testing.assert_allclose(with_jacobian.outputs["grad_input"], short.outputs["grad_input"], atol=1e-15)
    np.testing.assert_allclose(short.evaluate()["grad_input"], with_jacobian.evaluate()["grad_input"], atol=1e-15)


# ---------------------------------------------------------------- kinks

def test_relu_derivative_at_zero_is_zero():
    trace = activation_backward([-1.0, 0.0, 2.0], [5.0, 5.0, 5.0], function="relu")
    np.testing.assert_array_equal(trace.outputs["grad_input"], [0.0, 0.0, 5.0])
    assert any("x = 0" in note and "0" in note for note in trace.notes)
    assert "kink" in trace.steps[1].message and "taken as 0" in trace.steps[1].message


def test_leaky_relu_derivative_at_zero_is_alpha():
    trace = activation_backward([-1.0, 0.0, 2.0], [5.0, 5.0, 5.0], function="leaky_relu", alpha=0.1)
    np.testing.assert_allclose(trace.outputs["grad_input"], [0.5, 0.5, 5.0])
    assert any("x = 0" in note and "α" in note for note in trace.notes)
    assert "taken as α" in trace.steps[1].message
    assert activation([-2.0], function="leaky_relu", alpha=0.1).outputs["output"][0] == pytest.approx(-0.2)


def test_relu6_derivative_is_zero_at_zero_and_at_six():
    trace = activation_backward([0.0, 3.0, 6.0, 7.0, -1.0], [2.0] * 5, function="relu6")
    np.testing.assert_array_equal(trace.outputs["grad_input"], [0.0, 2.0, 0.0, 0.0, 0.0])
    assert any("x = 0" in note and "x = 6" in note for note in trace.notes)
    np.testing.assert_array_equal(activation([0.0, 3.0, 6.0, 7.0], function="relu6").outputs["output"],
                                  [0.0, 3.0, 6.0, 6.0])
    assert "capped at 6" in activation([7.0], function="relu6").steps[0].message


def test_kink_note_appears_only_when_an_input_is_exactly_zero():
    for function in ("relu", "leaky_relu", "relu6"):
        with_zero = activation_backward([0.0, 1.0], [1.0, 1.0], function=function).notes
        without = activation_backward([0.5, 1.0], [1.0, 1.0], function=function).notes
        assert any("x = 0" in note for note in with_zero), function
        assert not any("x = 0" in note for note in without), function


def test_relu_step_writes_the_max():
    step = activation([[-2.0, 3.0]], function="relu").steps[0]
    assert step.id == "output[0,0]" and step.kind is StepKind.ELEMENTWISE
    assert step.expansion == r"\mathrm{ReLU}(-2) = \max(0, -2) = 0"
    assert step.result == 0.0 and step.evaluate() == 0.0


def test_sigmoid_step_shows_the_exponential():
    step = activation([1.0], function="sigmoid").steps[0]
    assert step.expansion == r"\sigma(1) = \frac{1}{1 + e^{-1}} = 0.731059"
    assert step.result == pytest.approx(1 / (1 + math.exp(-1)))


# ---------------------------------------------------------------- the trace rebuilds every output

TRACES = [
    *[(f"{f} forward", lambda f=f: activation(np.linspace(-7, 7, 12).reshape(3, 4), function=f, alpha=0.2),
       {"output"}) for f in FUNCTIONS],
    *[(f"{f} backward",
       lambda f=f: activation_backward(np.linspace(-7, 7, 12).reshape(3, 4), np.linspace(1, 2, 12).reshape(3, 4),
                                       function=f, alpha=0.2), {"grad_input"}) for f in FUNCTIONS],
    ("softmax backward short form", lambda: activation_backward(np.linspace(-3, 3, 20).reshape(2, 10),
                                                                np.ones((2, 10)), function="softmax"),
     {"grad_input", "dot", "output"}),
    ("relu scalar", lambda: activation(-1.5, function="relu"), {"output"}),
    ("tanh backward scalar", lambda: activation_backward(0.3, 2.0, function="tanh"), {"grad_input"}),
]


@pytest.mark.parametrize("name, make, main", TRACES, ids=[t[0] for t in TRACES])
def test_evaluate_equals_flat_outputs_for_every_function(name, make, main):
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


def test_scalar_activation_titles_have_no_empty_brackets():
    forward = activation(-2.0, function="relu").steps[0]
    backward = activation_backward(0.0, 1.0, function="relu").steps[0]
    for text in (forward.title, forward.message, backward.title, backward.message):
        assert "()" not in text, text


# ---------------------------------------------------------------- bad input

def _error(call) -> EngineError:
    with pytest.raises(EngineError) as caught:
        call()
    return caught.value


def test_unknown_function_is_refused():
    error = _error(lambda: activation([1.0], function="gelu"))
    assert error.argument == "function" and "softmax" in str(error)
    assert _error(lambda: activation_backward([1.0], [1.0], function="swish")).argument == "function"


def test_backward_grad_output_of_another_shape_is_refused():
    error = _error(lambda: activation_backward([[1.0, 2.0]], [[1.0], [2.0]], function="relu"))
    assert error.argument == "grad_output"
    assert _error(lambda: activation_backward([1.0, 2.0], [1.0, 2.0, 3.0], function="softmax")).argument \
        == "grad_output"


def test_nan_in_the_input_is_refused_with_its_position():
    error = _error(lambda: activation([[1.0, 2.0], [3.0, math.nan]], function="tanh"))
    assert error.argument == "input" and error.location == (1, 1)
    error = _error(lambda: activation_backward([1.0, 2.0], [0.0, math.inf], function="sigmoid"))
    assert error.argument == "grad_output" and error.location == (1,)


def test_ragged_input_is_refused():
    error = _error(lambda: activation([[1.0, 2.0], [3.0]], function="relu"))
    assert error.argument == "input" and error.location == (1,)


def test_softmax_needs_an_axis_and_a_dim_inside_it():
    assert _error(lambda: activation(3.0, function="softmax")).argument == "input"
    assert _error(lambda: activation([[1.0, 2.0]], function="softmax", dim=2)).argument == "dim"
    assert _error(lambda: activation([[1.0, 2.0]], function="softmax", dim=-3)).argument == "dim"
    assert _error(lambda: activation([1.0, 2.0], function="softmax", dim=True)).argument == "dim"


def test_alpha_must_be_a_number():
    assert _error(lambda: activation([1.0], function="leaky_relu", alpha="a")).argument == "alpha"
    assert _error(lambda: activation([1.0], function="leaky_relu", alpha=math.nan)).argument == "alpha"
