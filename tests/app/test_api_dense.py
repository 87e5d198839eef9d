"""JSON API: dense, dense/backward and flatten."""

from __future__ import annotations

import pytest

import app.api.budget as budget
from app.limits import MAX_MULTIPLY_ADDS
from app.schemas import DenseBackwardTrace, DenseTrace, FlattenTrace

X = [4, 0, 4, 3]   # seed 000's feature map [[4, 0], [4, 3]], flattened
W = [[0.2, -0.5, 0.4, 0.1]]
SEED = {"input": X, "weight": W, "bias": [0.2]}


def test_dense_on_the_seed_gives_two_point_nine_with_every_product(api):
    trace = api.ok("dense", SEED)
    assert trace["outputs"]["output"] == [pytest.approx(2.9)]
    assert trace["params"] == {"in_features": 4, "out_features": 1}
    assert trace["inputs"] == {"input": X, "weight": W, "bias": [0.2]}
    (step,) = trace["steps"]
    assert step["id"] == "output[0]" and step["kind"] == "multiply_add"
    assert step["expansion"] == "y_{1} = 0.2(4) + (-0.5)(0) + 0.4(4) + 0.1(3) + 0.2 = 2.9"
    assert [t["value"] for t in step["terms"]] == pytest.approx([0.8, 0, 1.6, 0.3, 0.2])
    assert step["terms"][0]["factors"] == [{"tensor": "weight", "index": [0, 0], "value": 0.2},
                                           {"tensor": "input", "index": [0], "value": 4}]
    assert step["reads"]["bias"] == [[0]]
    DenseTrace.model_validate(trace)


def test_dense_on_a_batch_gives_one_row_per_sample(api):
    trace = api.ok("dense", {"input": [[1, 2], [3, 4]], "weight": [[1, 0], [0, 1], [1, 1]], "bias": 1})
    assert trace["outputs"]["output"] == [[2, 3, 4], [4, 5, 8]]
    assert [s["id"] for s in trace["steps"]][:4] == ["output[0,0]", "output[0,1]", "output[0,2]", "output[1,0]"]


def test_dense_without_a_bias_adds_nothing(api):
    trace = api.ok("dense", {"input": X, "weight": W})
    assert trace["outputs"]["output"] == [pytest.approx(2.7)]
    assert "bias" not in trace["inputs"]


def test_dense_backward_of_the_seed_gives_the_gradients_the_sgd_example_uses(api):
    trace = api.ok("dense/backward", {**SEED, "grad_output": [2.9]})
    outputs = trace["outputs"]
    assert outputs["grad_weight"] == [pytest.approx([11.6, 0, 11.6, 8.7])]
    assert outputs["grad_bias"] == [2.9]
    assert outputs["grad_input"] == pytest.approx([0.58, -1.45, 1.16, 0.29])
    assert [s["id"] for s in trace["steps"]] == ["grad_weight[0,0]", "grad_weight[0,1]", "grad_weight[0,2]",
                                                 "grad_weight[0,3]", "grad_bias[0]", "grad_input[0]",
                                                 "grad_input[1]", "grad_input[2]", "grad_input[3]"]
    assert trace["steps"][0]["expansion"] == r"\frac{\partial L}{\partial W_{1,1}} = 2.9(4) = 11.6"
    assert trace["steps"][0]["kind"] == "gradient_sum"
    DenseBackwardTrace.model_validate(trace)


def test_dense_backward_on_a_batch_sums_the_samples(api):
    body = {"input": [[1, 2], [3, 4]], "weight": [[1, -1]], "grad_output": [[1], [2]]}
    outputs = api.ok("dense/backward", body)["outputs"]
    assert outputs["grad_weight"] == [[7, 10]]
    assert outputs["grad_input"] == [[1, -1], [2, -2]]
    assert "grad_bias" not in outputs


def test_flatten_lists_the_cells_row_major(api):
    trace = api.ok("flatten", {"input": [[4, 0], [4, 3]]})
    assert trace["outputs"]["output"] == X
    assert trace["params"] == {"input_shape": [2, 2], "output_shape": [4]}
    assert trace["steps"][2]["expansion"] == "p_{3} = x_{2,1} = 4"
    assert trace["steps"][2]["kind"] == "reshape"
    FlattenTrace.model_validate(trace)


def test_flatten_takes_channel_then_row_then_column_and_keeps_a_batch(api):
    channels = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    assert api.ok("flatten", {"input": channels})["outputs"]["output"] == [1, 2, 3, 4, 5, 6, 7, 8]
    batch = api.ok("flatten", {"input": [channels, channels]})
    assert batch["outputs"]["output"] == [[1, 2, 3, 4, 5, 6, 7, 8]] * 2
    assert batch["params"]["output_shape"] == [2, 8]


# --- refusals -------------------------------------------------------------------------------

def test_a_weight_that_is_in_by_out_is_refused_with_the_hint(api):
    detail = api.refused("dense", {"input": X, "weight": [[0.2], [-0.5], [0.4], [0.1]]})
    assert [d["loc"] for d in detail] == [["body", "weight"]]
    assert "weights are (out, in)" in detail[0]["msg"]


@pytest.mark.parametrize("weight", [[0.2, -0.5, 0.4, 0.1], [[[0.2, -0.5, 0.4, 0.1]]], [[1, 2, 3]]])
def test_a_weight_that_is_not_out_by_in_is_refused(api, weight):
    assert api.locs("dense", {"input": X, "weight": weight}) == [["body", "weight"]]


def test_a_bias_of_the_wrong_length_is_refused(api):
    assert api.locs("dense", {**SEED, "bias": [0.2, 0.1]}) == [["body", "bias"]]


@pytest.mark.parametrize("grad_output", [[2.9, 1], [[2.9], [1]], [[[2.9]]]])
def test_dense_backward_refuses_a_grad_output_not_in_the_outputs_shape(api, grad_output):
    assert api.locs("dense/backward", {**SEED, "grad_output": grad_output}) == [["body", "grad_output"]]


def test_flatten_refuses_a_tensor_of_five_axes_at_the_nesting(api):
    detail = api.refused("flatten", {"input": [[[[[1]]]]]})
    assert detail[0]["loc"] == ["body", "input", 0, 0, 0, 0]


def test_dense_over_the_multiply_add_limit_is_refused_before_computing(api):
    side = 1000  # 1000 samples x 1000 neurons x 1000 inputs = a billion multiply-adds
    body = {"input": [[0] * side] * side, "weight": [[0] * side] * side}
    detail = api.refused("dense", body)
    assert [d["loc"] for d in detail] == [["body"]]
    assert f"the multiply-adds would be {side ** 3:,}; the limit is {MAX_MULTIPLY_ADDS:,}" in detail[0]["msg"]


def test_dense_backward_counts_both_products(api, monkeypatch):
    monkeypatch.setattr(budget, "MAX_MULTIPLY_ADDS", 10)
    body = {"input": [[1, 2, 3]] * 2, "weight": [[1, 1, 1]]}  # 2 samples x 1 neuron x 3 inputs = 6
    assert api.ok("dense", body)
    detail = api.refused("dense/backward", {**body, "grad_output": [[1], [1]]})
    assert "the multiply-adds would be 12; the limit is 10" in detail[0]["msg"]


def test_a_neuron_with_more_inputs_than_a_step_may_hold_is_refused(api, monkeypatch):
    monkeypatch.setattr(budget, "MAX_STEP_TERMS", 3)
    detail = api.refused("dense", SEED)
    assert [d["loc"] for d in detail] == [["body", "input"]]
    assert "would be 4; the limit is 3" in detail[0]["msg"]
