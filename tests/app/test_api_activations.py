"""JSON API: activation and activation/backward."""

from __future__ import annotations

import math
from typing import get_args

import pytest

import app.api.budget as budget
import engine.activations
from app.schemas import ActivationBackwardTrace, ActivationFunction, ActivationTrace

SCORES = [2.0, 1.0, 0.1]
SOFTMAX = [math.exp(z) / sum(math.exp(v) for v in SCORES) for z in SCORES]  # 0.659, 0.2424, 0.0986
X = [[-2, 0.5], [0, 3]]


def test_the_api_offers_exactly_the_engines_activations():
    assert get_args(ActivationFunction) == engine.activations.FUNCTIONS


def test_softmax_of_the_worked_scores_gives_probabilities_with_their_steps(api):
    trace = api.ok("activation", {"input": SCORES, "function": "softmax"})
    assert trace["outputs"]["output"] == pytest.approx(SOFTMAX)
    assert trace["outputs"]["output"] == pytest.approx([0.659001, 0.242433, 0.0985659], abs=1e-6)
    assert trace["params"] == {"function": "softmax", "dim": 0}
    assert trace["intermediates"]["max"] == 2
    assert trace["intermediates"]["exp"] == pytest.approx([1, math.exp(-1), math.exp(-1.9)])
    assert trace["intermediates"]["sum"] == pytest.approx(1 + math.exp(-1) + math.exp(-1.9))
    assert [s["id"] for s in trace["steps"]] == ["max", "exp[0]", "exp[1]", "exp[2]", "sum",
                                                 "output[0]", "output[1]", "output[2]"]
    assert [s["kind"] for s in trace["steps"][:2]] == ["reduce", "elementwise"]
    assert trace["steps"][1]["function"] == "exp"
    assert trace["steps"][-1]["expansion"] == r"p_{3} = \frac{0.149569}{1.51745} = 0.0985659"
    ActivationTrace.model_validate(trace)


def test_softmax_along_the_first_axis_normalizes_each_column(api):
    trace = api.ok("activation", {"input": [[0, 5], [0, 5]], "function": "softmax", "dim": 0})
    assert trace["outputs"]["output"] == [[0.5, 0.5], [0.5, 0.5]]
    assert trace["params"]["dim"] == 0


@pytest.mark.parametrize("function, alpha, output", [
    ("relu", 0.01, [[0, 0.5], [0, 3]]),
    ("leaky_relu", 0.1, [[-0.2, 0.5], [0, 3]]),
    ("relu6", 0.01, [[0, 0.5], [0, 3]]),
])
def test_piecewise_activations_cell_by_cell(api, function, alpha, output):
    trace = api.ok("activation", {"input": X, "function": function, "alpha": alpha})
    assert trace["outputs"]["output"] == output
    assert [s["id"] for s in trace["steps"]] == ["output[0,0]", "output[0,1]", "output[1,0]", "output[1,1]"]
    assert trace["params"].get("alpha") == (alpha if function == "leaky_relu" else None)


def test_relu_step_writes_out_the_max(api):
    step = api.ok("activation", {"input": X, "function": "relu"})["steps"][0]
    assert step["expansion"] == r"\mathrm{ReLU}(-2) = \max(0, -2) = 0"
    assert step["function"] == "relu"
    assert step["target"] == {"tensor": "output", "index": [0, 0]}


def test_sigmoid_and_tanh_of_zero(api):
    assert api.ok("activation", {"input": [0], "function": "sigmoid"})["outputs"]["output"] == [0.5]
    assert api.ok("activation", {"input": 0, "function": "tanh"})["outputs"]["output"] == 0


@pytest.mark.parametrize("function, grad_at_zero", [("relu", 0), ("leaky_relu", 0.01), ("relu6", 0)])
def test_backward_takes_pytorchs_derivative_at_the_kink(api, function, grad_at_zero):
    body = {"input": [-1, 0, 2], "function": function, "grad_output": [1, 1, 1]}
    trace = api.ok("activation/backward", body)
    assert trace["outputs"]["grad_input"] == pytest.approx([grad_at_zero if function == "leaky_relu" else 0,
                                                            grad_at_zero, 1])
    assert any("x = 0" in note for note in trace["notes"])
    ActivationBackwardTrace.model_validate(trace)


def test_sigmoid_backward_multiplies_delta_by_the_slope(api):
    trace = api.ok("activation/backward", {"input": [0], "function": "sigmoid", "grad_output": [2]})
    assert trace["outputs"]["grad_input"] == [0.5]
    assert trace["intermediates"]["output"] == [0.5]
    assert trace["intermediates"]["derivative"] == [0.25]


def test_softmax_backward_writes_out_the_jacobian_of_a_short_row(api):
    trace = api.ok("activation/backward", {"input": SCORES, "function": "softmax", "grad_output": [1, 0, 0]})
    p = SOFTMAX
    assert trace["outputs"]["grad_input"] == pytest.approx([p[0] * (1 - p[0]), -p[0] * p[1], -p[0] * p[2]])
    assert trace["intermediates"]["jacobian"][0][0] == pytest.approx(p[0] * (1 - p[0]))
    assert trace["intermediates"]["jacobian"][0][1] == pytest.approx(-p[0] * p[1])
    ids = [s["id"] for s in trace["steps"]]
    assert ids[8:11] == ["jacobian[0,0]", "jacobian[0,1]", "jacobian[0,2]"]
    assert ids[-3:] == ["grad_input[0]", "grad_input[1]", "grad_input[2]"]
    ActivationBackwardTrace.model_validate(trace)


def test_softmax_backward_of_a_long_row_uses_the_weighted_mean_instead(api):
    row = list(range(10))
    trace = api.ok("activation/backward", {"input": row, "function": "softmax", "grad_output": [1] + [0] * 9})
    assert "jacobian" not in trace["intermediates"]
    assert "dot" in trace["intermediates"]
    assert sum(trace["outputs"]["grad_input"]) == pytest.approx(0, abs=1e-12)


# --- refusals -------------------------------------------------------------------------------

@pytest.mark.parametrize("function", ["gelu", "ReLU", "", 1])
def test_an_unknown_function_is_refused_by_name(api, function):
    detail = api.refused("activation", {"input": [1], "function": function})
    assert [d["loc"] for d in detail] == [["body", "function"]]


@pytest.mark.parametrize("dim, loc", [(1, ["body", "dim"]), (-2, ["body", "dim"]), (4, ["body", "dim"])])
def test_a_softmax_axis_the_input_does_not_have_is_refused(api, dim, loc):
    assert api.locs("activation", {"input": SCORES, "function": "softmax", "dim": dim}) == [loc]


def test_backward_refuses_a_grad_output_of_another_shape(api):
    body = {"input": X, "function": "relu", "grad_output": [[1, 1, 1], [1, 1, 1]]}
    detail = api.refused("activation/backward", body)
    assert [d["loc"] for d in detail] == [["body", "grad_output"]]
    assert "(2, 2)" in detail[0]["msg"]


def test_a_softmax_row_with_more_classes_than_a_step_may_hold_is_refused(api, monkeypatch):
    monkeypatch.setattr(budget, "MAX_STEP_TERMS", 3)
    detail = api.refused("activation", {"input": [1, 2, 3, 4], "function": "softmax"})
    assert [d["loc"] for d in detail] == [["body", "input"]]
    assert "would be 4; the limit is 3" in detail[0]["msg"]
    assert api.ok("activation", {"input": [1, 2, 3, 4], "function": "relu"})  # one cell a step: no limit


def test_softmax_backward_refuses_jacobians_over_the_output_limit(api, monkeypatch):
    monkeypatch.setattr(budget, "MAX_OUTPUT_ELEMENTS", 20)
    body = {"input": [[1, 2, 3]] * 3, "function": "softmax", "grad_output": [[1, 0, 0]] * 3}  # 3 rows of 3x3
    detail = api.refused("activation/backward", body)
    assert [d["loc"] for d in detail] == [["body", "input"]]
    assert "Jacobians would be 27; the limit is 20" in detail[0]["msg"]
    assert api.ok("activation", {k: v for k, v in body.items() if k != "grad_output"})
