"""Every loss kind and reduction against loops written from the definitions, and every grad_input
against central differences of the loss itself.

The references use only ``math``: they walk every cell, clip a probability to [eps, 1 - eps]
before its log, and divide by the count the reduction names.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import EngineError, loss
from engine.trace import Combine
from central_differences import numeric_gradient

FAST = settings(max_examples=30, deadline=None)
EPS = 1e-12


# ---------------------------------------------------------------- references (plain loops)

def reference_mse(y: np.ndarray, t: np.ndarray, reduction: str) -> float:
    total, count = 0.0, 0
    for index in np.ndindex(y.shape):
        total += (float(y[index]) - float(t[index])) ** 2
        count += 1
    return {"mean": total / count, "sum": total, "half_sum": total / 2}[reduction]


def clipped_log(p: float, eps: float = EPS) -> float:
    return math.log(min(max(p, eps), 1 - eps))


def one_hot_rows(target, shape: tuple[int, ...]) -> np.ndarray:
    """Class indices as one-hot rows of ``shape``; a probability target as it is."""
    target = np.asarray(target, dtype=float)
    if target.shape == shape:
        return target
    rows = np.zeros(shape)
    if len(shape) == 1:
        rows[int(target)] = 1.0
    else:
        for n in range(shape[0]):
            rows[n, int(target[n])] = 1.0
    return rows


def reference_cross_entropy(p: np.ndarray, target, reduction: str) -> float:
    """-sum_c t_c log p_c per sample; 'mean' divides by the samples."""
    t = one_hot_rows(target, p.shape)
    p_rows, t_rows = (p, t) if p.ndim == 2 else (p[None], t[None])
    total = 0.0
    for n in range(p_rows.shape[0]):
        for c in range(p_rows.shape[1]):
            if t_rows[n, c] != 0:
                total -= t_rows[n, c] * clipped_log(float(p_rows[n, c]))
    return total / p_rows.shape[0] if reduction == "mean" else total


def reference_softmax_rows(z: np.ndarray) -> np.ndarray:
    z_rows = z if z.ndim == 2 else z[None]
    p = np.zeros(z_rows.shape)
    for n in range(z_rows.shape[0]):
        total = sum(math.exp(v) for v in z_rows[n])
        for c in range(z_rows.shape[1]):
            p[n, c] = math.exp(z_rows[n, c]) / total
    return p if z.ndim == 2 else p[0]


def reference_softmax_cross_entropy(z: np.ndarray, target, reduction: str) -> float:
    return reference_cross_entropy(reference_softmax_rows(z), target, reduction)


def reference_binary(p: np.ndarray, t: np.ndarray, reduction: str) -> float:
    total, count = 0.0, 0
    for index in np.ndindex(p.shape):
        pv, tv = float(p[index]), float(t[index])
        total -= tv * clipped_log(pv) + (1 - tv) * math.log(1 - min(max(pv, EPS), 1 - EPS))
        count += 1
    return total / count if reduction == "mean" else total


def assert_evaluate_matches_flat_outputs(trace) -> None:
    rebuilt = trace.evaluate()
    reference = trace.flat_outputs()
    assert {"loss", "grad_input"} <= set(rebuilt)
    for key, value in rebuilt.items():
        np.testing.assert_allclose(np.asarray(value, dtype=float), np.asarray(reference[key], dtype=float),
                                   rtol=1e-12, atol=1e-12, err_msg=key)


# ---------------------------------------------------------------- problem generators

@st.composite
def shapes(draw, ranks):
    rank = draw(st.sampled_from(ranks))
    return tuple(draw(st.integers(1, 3)) for _ in range(rank))


@st.composite
def regression_problems(draw):
    shape = draw(shapes((0, 1, 2, 3, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.standard_normal(shape), rng.standard_normal(shape), draw(st.sampled_from(["mean", "sum", "half_sum"]))


@st.composite
def class_problems(draw, logits: bool):
    """(prediction, target, reduction): one sample (C,) or a batch (N, C); indices or probabilities."""
    C = draw(st.integers(2, 5))
    N = draw(st.sampled_from([None, 1, 3]))
    shape = (C,) if N is None else (N, C)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if logits:
        prediction = rng.uniform(-4, 4, size=shape)
    else:   # probabilities well inside (eps, 1 - eps); not normalised, each one perturbed on its own
        prediction = rng.uniform(0.05, 0.95, size=shape)
    if draw(st.booleans()):
        target = rng.integers(0, C) if N is None else rng.integers(0, C, size=N).astype(float)
    else:
        raw = rng.random(size=shape) * (rng.random(size=shape) < 0.7)
        raw[..., 0] += 0.1
        target = raw / raw.sum(axis=-1, keepdims=True)
    return prediction, target, draw(st.sampled_from(["mean", "sum"]))


@st.composite
def binary_problems(draw):
    shape = draw(shapes((0, 1, 2, 3, 4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    p = rng.uniform(0.05, 0.95, size=shape)
    t = np.where(rng.random(size=shape) < 0.5, rng.integers(0, 2, size=shape), rng.random(size=shape))
    return p, np.asarray(t, dtype=float), draw(st.sampled_from(["mean", "sum"]))


# ---------------------------------------------------------------- by the definition, and by finite differences

@FAST
@given(regression_problems())
def test_mse_matches_the_definition_and_its_gradient(problem):
    y, t, reduction = problem
    trace = loss(y, t, kind="mse", reduction=reduction)
    assert trace.outputs["loss"] == pytest.approx(reference_mse(y, t, reduction), rel=1e-12)
    grad = numeric_gradient(lambda: reference_mse(y, t, reduction), y, h=1e-6)
    assert np.shape(trace.outputs["grad_input"]) == y.shape
    np.testing.assert_allclose(trace.outputs["grad_input"], grad, atol=1e-6)
    assert_evaluate_matches_flat_outputs(trace)


@FAST
@given(class_problems(logits=False))
def test_cross_entropy_on_probabilities_matches_the_definition_and_its_gradient(problem):
    p, target, reduction = problem
    trace = loss(p, target, kind="cross_entropy", reduction=reduction)
    assert trace.outputs["loss"] == pytest.approx(reference_cross_entropy(p, target, reduction), rel=1e-12)

    def value() -> float:
        return loss(p, target, kind="cross_entropy", reduction=reduction).outputs["loss"]

    np.testing.assert_allclose(trace.outputs["grad_input"], numeric_gradient(value, p, h=1e-6), atol=1e-6)
    assert_evaluate_matches_flat_outputs(trace)


@FAST
@given(class_problems(logits=True))
def test_softmax_cross_entropy_matches_the_definition_and_its_gradient(problem):
    z, target, reduction = problem
    trace = loss(z, target, kind="softmax_cross_entropy", reduction=reduction)
    assert trace.outputs["loss"] == pytest.approx(reference_softmax_cross_entropy(z, target, reduction), rel=1e-12)
    np.testing.assert_allclose(trace.intermediates["probabilities"], reference_softmax_rows(z), rtol=1e-12)

    def value() -> float:
        return loss(z, target, kind="softmax_cross_entropy", reduction=reduction).outputs["loss"]

    np.testing.assert_allclose(trace.outputs["grad_input"], numeric_gradient(value, z, h=1e-6), atol=1e-6)
    assert_evaluate_matches_flat_outputs(trace)


@FAST
@given(binary_problems())
def test_binary_cross_entropy_matches_the_definition_and_its_gradient(problem):
    p, t, reduction = problem
    trace = loss(p, t, kind="binary_cross_entropy", reduction=reduction)
    assert trace.outputs["loss"] == pytest.approx(reference_binary(p, t, reduction), rel=1e-12)

    def value() -> float:
        return loss(p, t, kind="binary_cross_entropy", reduction=reduction).outputs["loss"]

    assert np.shape(trace.outputs["grad_input"]) == p.shape
    np.testing.assert_allclose(trace.outputs["grad_input"], numeric_gradient(value, p, h=1e-6), atol=1e-6)
    assert_evaluate_matches_flat_outputs(trace)


@FAST
@given(class_problems(logits=False), st.booleans())
def test_class_indices_and_one_hot_targets_give_the_same_loss_and_gradient(problem, logits):
    prediction, target, reduction = problem
    if np.shape(target) == prediction.shape:
        target = np.argmax(target, axis=-1)
    kind = "softmax_cross_entropy" if logits else "cross_entropy"
    by_index = loss(prediction, target, kind=kind, reduction=reduction)
    by_one_hot = loss(prediction, one_hot_rows(target, prediction.shape), kind=kind, reduction=reduction)
    assert by_index.params["target_form"] == "index" and by_one_hot.params["target_form"] == "probabilities"
    assert by_index.outputs["loss"] == pytest.approx(by_one_hot.outputs["loss"], rel=1e-15)
    np.testing.assert_array_equal(by_index.outputs["grad_input"], by_one_hot.outputs["grad_input"])
    assert any("class indices" in note for note in by_index.notes)


def test_softmax_cross_entropy_gradient_follows_a_target_that_does_not_add_up_to_one():
    z = np.array([1.0, 2.0, 0.5])
    t = np.array([0.5, 0.9, 0.0])
    trace = loss(z, t, kind="softmax_cross_entropy", reduction="sum")
    assert any("does not add up to 1" in note for note in trace.notes)

    def value() -> float:
        return loss(z, t, kind="softmax_cross_entropy", reduction="sum").outputs["loss"]

    np.testing.assert_allclose(trace.outputs["grad_input"], numeric_gradient(value, z, h=1e-6), atol=1e-6)


# ---------------------------------------------------------------- reductions

def test_mse_mean_divides_by_the_number_of_elements():
    y, t = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.zeros((2, 3))
    mean = loss(y, t, kind="mse", reduction="mean")
    total = loss(y, t, kind="mse", reduction="sum")
    assert total.outputs["loss"] == 1 + 4 + 9 + 16 + 25 + 36
    assert mean.outputs["loss"] == pytest.approx(91 / 6)
    np.testing.assert_allclose(mean.outputs["grad_input"], 2 * y / 6)
    np.testing.assert_allclose(total.outputs["grad_input"], 2 * y)
    assert any("N = 6 elements" in note for note in mean.notes)


@pytest.mark.parametrize("kind", ["cross_entropy", "softmax_cross_entropy"])
def test_cross_entropy_mean_divides_by_samples_not_classes(kind):
    prediction = np.array([[0.2, 0.3, 0.1, 0.4], [0.6, 0.1, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]])
    target = [3, 0, 2]
    mean = loss(prediction, target, kind=kind, reduction="mean")
    total = loss(prediction, target, kind=kind, reduction="sum")
    assert mean.outputs["loss"] == pytest.approx(total.outputs["loss"] / 3, rel=1e-14)
    assert mean.outputs["loss"] != pytest.approx(total.outputs["loss"] / 12)
    np.testing.assert_allclose(mean.outputs["grad_input"], total.outputs["grad_input"] / 3, rtol=1e-14)
    assert any("3 samples, not by the classes" in note for note in mean.notes)
    if kind == "cross_entropy":
        expected = -(math.log(0.4) + math.log(0.6) + math.log(0.25))
        assert total.outputs["loss"] == pytest.approx(expected, rel=1e-14)
    step = mean.steps.by_id("loss")
    assert step.combine is Combine.MEAN and step.divisor == 3.0


def test_binary_cross_entropy_mean_divides_by_the_cells():
    p, t = np.array([[0.9, 0.2], [0.4, 0.7]]), np.array([[1.0, 0.0], [1.0, 1.0]])
    mean = loss(p, t, kind="binary_cross_entropy")
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.7)) / 4
    assert mean.outputs["loss"] == pytest.approx(expected, rel=1e-14)
    assert loss(p, t, kind="binary_cross_entropy", reduction="sum").outputs["loss"] == pytest.approx(4 * expected)


# ---------------------------------------------------------------- golden cases

def test_seed000_mse_half_sum_of_2_9_against_0():
    trace = loss(2.9, 0.0, kind="mse", reduction="half_sum")
    assert trace.outputs["loss"] == pytest.approx(0.5 * 2.9**2) == pytest.approx(4.205)
    assert trace.outputs["grad_input"] == pytest.approx(2.9)
    step = trace.steps.by_id("loss")
    assert step.expansion == r"L = \frac{1}{2}\left[(2.9 - 0)^2\right] = 4.205"
    assert step.evaluate() == pytest.approx(4.205)
    vector = loss([2.9], [0.0], kind="mse", reduction="half_sum")
    np.testing.assert_allclose(vector.outputs["grad_input"], [2.9])
    assert any("½" in note for note in trace.notes)


def test_seed003_cross_entropy_of_the_true_class_07():
    p = [0.01, 0.03, 0.02, 0.10, 0.05, 0.05, 0.01, 0.70, 0.01, 0.02]
    trace = loss(p, 7, kind="cross_entropy")
    assert trace.outputs["loss"] == pytest.approx(-math.log(0.7), rel=1e-14)
    expected_grad = np.zeros(10)
    expected_grad[7] = -1 / 0.7
    np.testing.assert_allclose(trace.outputs["grad_input"], expected_grad)
    step = trace.steps.by_id("loss")
    assert step.expansion == r"L = -\left[1 \cdot (-0.356675)\right] = 0.356675"
    assert [s.id for s in step.substeps] == ["log_probabilities[7]"]
    assert step.substeps[0].expansion == r"\log 0.7 = -0.356675"
    assert trace.steps.by_id("grad_input[7]").expansion.endswith(r"-\frac{1}{0.7} = -1.42857")


def test_cross_entropy_clips_a_zero_probability_of_the_true_class_to_eps():
    trace = loss([0.5, 0.0, 0.5], 1, kind="cross_entropy")
    assert trace.outputs["loss"] == pytest.approx(-math.log(EPS), rel=1e-14)
    assert trace.outputs["grad_input"][1] == 0.0
    assert any("clipped" in note and "1e-12" in note for note in trace.notes)
    log_step = trace.steps.by_id("loss").substeps[0]
    assert "clipped" in log_step.message and log_step.result == pytest.approx(math.log(EPS))
    # a zero on a class the target does not weigh needs no clipping
    unclipped = loss([0.5, 0.0, 0.5], 0, kind="cross_entropy")
    assert not any("clipped" in note for note in unclipped.notes)


def test_binary_cross_entropy_of_exact_zero_and_one_is_finite():
    trace = loss([0.0, 1.0], [1.0, 0.0], kind="binary_cross_entropy", reduction="sum")
    assert trace.outputs["loss"] == pytest.approx(-2 * math.log(EPS), rel=1e-6)
    np.testing.assert_array_equal(trace.outputs["grad_input"], [0.0, 0.0])
    assert any("clipped" in note for note in trace.notes)


def test_softmax_cross_entropy_gradient_is_probability_minus_target():
    trace = loss([2.0, 1.0, 0.1], 0, kind="softmax_cross_entropy")
    e = [math.exp(2.0), math.exp(1.0), math.exp(0.1)]
    p = [v / sum(e) for v in e]
    np.testing.assert_allclose(trace.outputs["grad_input"], [p[0] - 1, p[1], p[2]], rtol=1e-14)
    assert trace.outputs["loss"] == pytest.approx(-math.log(p[0]), rel=1e-14)
    assert [s.id for s in trace.steps[:5]] == ["max", "exp[0]", "exp[1]", "exp[2]", "sum"]
    huge = loss([1000.0, 0.0], 1, kind="softmax_cross_entropy")
    assert huge.outputs["loss"] == pytest.approx(1000.0) and np.all(np.isfinite(huge.outputs["grad_input"]))


# ---------------------------------------------------------------- the trace rebuilds every output

TRACES = [
    ("mse mean", lambda: loss([[1.0, 2.0], [3.0, 4.0]], [[0.5, 2.0], [3.5, 0.0]], kind="mse")),
    ("mse sum scalar", lambda: loss(1.5, -0.5, kind="mse", reduction="sum")),
    ("mse half_sum", lambda: loss([2.9, 1.0], [0.0, 1.5], kind="mse", reduction="half_sum")),
    ("cross_entropy index", lambda: loss([0.2, 0.7, 0.1], 1, kind="cross_entropy")),
    ("cross_entropy batch probabilities", lambda: loss([[0.2, 0.7, 0.1], [0.5, 0.0, 0.5]],
                                                       [[0.0, 0.5, 0.5], [0.0, 1.0, 0.0]], kind="cross_entropy")),
    ("cross_entropy batch sum", lambda: loss([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]], [2, 0], kind="cross_entropy",
                                             reduction="sum")),
    ("softmax_cross_entropy", lambda: loss([2.0, 1.0, 0.1], 0, kind="softmax_cross_entropy")),
    ("softmax_cross_entropy batch", lambda: loss([[2.0, 1.0, 0.1], [0.0, 0.0, 3.0]], [[0.1, 0.9, 0.0], [0, 0, 1]],
                                                 kind="softmax_cross_entropy")),
    ("binary_cross_entropy", lambda: loss([[0.9, 0.2], [0.4, 0.7]], [[1, 0], [1, 0.5]],
                                          kind="binary_cross_entropy")),
    ("binary_cross_entropy scalar sum", lambda: loss(0.3, 1.0, kind="binary_cross_entropy", reduction="sum")),
    ("binary_cross_entropy clipped", lambda: loss([0.0, 1.0], [1.0, 0.0], kind="binary_cross_entropy")),
]


@pytest.mark.parametrize("name, make", TRACES, ids=[t[0] for t in TRACES])
def test_evaluate_equals_flat_outputs_for_every_kind(name, make):
    trace = make()
    assert_evaluate_matches_flat_outputs(trace)
    for step in trace.steps:
        if step.combine is not Combine.VALUE:
            np.testing.assert_allclose(step.evaluate(), step.result, rtol=1e-12, atol=1e-12, err_msg=step.id)


@pytest.mark.parametrize("name, make", TRACES, ids=[t[0] for t in TRACES])
def test_step_titles_messages_and_notes_are_plain_text(name, make):
    trace = make()
    pending = list(trace.steps)
    while pending:
        step = pending.pop()
        pending.extend(step.substeps)
        for text in (step.title, step.message):
            assert "\\" not in text and "$" not in text, (step.id, text)
    for note in trace.notes:
        assert "\\" not in note, note


# ---------------------------------------------------------------- bad input

def _error(call) -> EngineError:
    with pytest.raises(EngineError) as caught:
        call()
    return caught.value


def test_unknown_kind_and_reduction_are_refused():
    assert _error(lambda: loss([1.0], [1.0], kind="hinge")).argument == "kind"
    assert _error(lambda: loss([1.0], [1.0], kind="mse", reduction="avg")).argument == "reduction"


@pytest.mark.parametrize("kind", ["cross_entropy", "softmax_cross_entropy", "binary_cross_entropy"])
def test_half_sum_is_refused_for_a_cross_entropy(kind):
    error = _error(lambda: loss([0.5, 0.5], [1.0, 0.0], kind=kind, reduction="half_sum"))
    assert error.argument == "reduction"


def test_class_index_out_of_range_or_not_whole_is_refused():
    error = _error(lambda: loss([[0.2, 0.8], [0.5, 0.5]], [1, 2], kind="cross_entropy"))
    assert error.argument == "target" and error.location == (1,) and "0 to 1" in str(error)
    error = _error(lambda: loss([[0.2, 0.8], [0.5, 0.5]], [0.5, 1], kind="softmax_cross_entropy"))
    assert error.argument == "target" and error.location == (0,)
    assert _error(lambda: loss([0.2, 0.8], -1, kind="cross_entropy")).argument == "target"
    assert _error(lambda: loss([0.2, 0.8], 1.5, kind="cross_entropy")).argument == "target"


def test_negative_target_probability_is_refused_at_its_cell():
    error = _error(lambda: loss([[0.2, 0.8], [0.5, 0.5]], [[0.0, 1.0], [1.2, -0.2]], kind="cross_entropy"))
    assert error.argument == "target" and error.location == (1, 1)


def test_binary_cross_entropy_refuses_values_outside_zero_and_one():
    error = _error(lambda: loss([[0.2, 0.8], [1.2, 0.5]], [[0, 1], [1, 0]], kind="binary_cross_entropy"))
    assert error.argument == "prediction" and error.location == (1, 0)
    error = _error(lambda: loss([0.2, 0.8], [1.0, -0.1], kind="binary_cross_entropy"))
    assert error.argument == "target" and error.location == (1,)


def test_nan_ragged_and_mismatched_inputs_are_refused():
    error = _error(lambda: loss([1.0, math.nan], [1.0, 1.0], kind="mse"))
    assert error.argument == "prediction" and error.location == (1,)
    error = _error(lambda: loss([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0]], kind="mse"))
    assert error.argument == "target" and error.location == (1,)
    assert _error(lambda: loss([1.0, 2.0], [1.0, 2.0, 3.0], kind="mse")).argument == "target"
    assert _error(lambda: loss([[0.5, 0.5]], [0, 1, 0], kind="cross_entropy")).argument == "target"
    assert _error(lambda: loss(np.ones((2, 2, 2)), 0, kind="softmax_cross_entropy")).argument == "prediction"
