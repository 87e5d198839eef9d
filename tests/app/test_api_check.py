"""POST /api/v1/check: right and wrong answers are a 200; a bad problem is the op route's own 422
under ['body', 'problem', ...]; a malformed answer is a 422 under ['body', 'answer', ...]."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from app import schemas

SEED = {"input": [[2, 0, 1, 2], [1, 1, 0, 1], [0, 2, 1, 0], [1, 0, 2, 1]],
        "kernel": [[1, -1, 0], [0, 1, -1], [1, 0, 1]]}
POOL = [[1, 3, 2, 9], [4, 6, 1, 5], [7, 2, 8, 3], [0, 4, 3, 6]]
BATCH = [[1, 2], [3, 6], [5, 10]]

PROBLEMS = {
    "conv2d": SEED,
    "conv2d/backward": {**SEED, "bias": 0.1, "grad_output": [[1, 0], [0, -1]]},
    "conv1d": {"input": [3, 4, 5, 1], "kernel": [1, 2], "stride": 2},
    "conv1d/backward": {"input": [3, 4, 5], "kernel": [1, 2], "grad_output": [1, -1]},
    "pool2d": {"input": POOL, "kernel_size": 2},
    "pool2d/backward": {"input": POOL, "kernel_size": 2, "grad_output": [[1, 2], [3, 4]]},
    "im2col": {"input": POOL, "kernel_size": 2},
    "output-size": {"input_size": 224, "kernel_size": 7, "stride": 2, "padding": 3},
    "activation": {"input": [2.0, 1.0, 0.1], "function": "softmax"},
    "activation/backward": {"input": [[-2, 0.5], [0, 3]], "function": "relu", "grad_output": [[1, 1], [1, 1]]},
    "dense": {"input": [4, 0, 4, 3], "weight": [[0.2, -0.5, 0.4, 0.1]], "bias": [0.2]},
    "dense/backward": {"input": [4, 0, 4, 3], "weight": [[0.2, -0.5, 0.4, 0.1]], "grad_output": [2.9]},
    "flatten": {"input": [[4, 0], [4, 3]]},
    "loss": {"prediction": [2.9], "target": [0], "kind": "mse", "reduction": "half_sum"},
    "optimizer": {"params": {"w": [0.2, -0.5, 0.4, 0.1], "b": 0.2}, "grads": {"w": [11.6, 0, 11.6, 8.7], "b": 2.9},
                  "kind": "momentum", "lr": 0.1, "momentum": 0.9,
                  "state": {"step": 1, "velocity": {"w": [1, 0, 1, 1], "b": 0.5}}},
    "batchnorm": {"input": BATCH},
    "batchnorm/backward": {"input": BATCH, "grad_output": [[1, 0], [0, 1], [-1, 1]]},
    "dropout": {"input": [[1, 2], [3, 4]], "p": 0.5, "seed": 3},
}


def first_output(outputs: dict):
    """The op's default output: its first, and a group's first member (params.w)."""
    value = next(iter(outputs.values()))
    return next(iter(value.values())) if isinstance(value, dict) else value


def test_every_checkable_op_has_a_problem_here():
    assert set(PROBLEMS) == set(get_args(schemas.CheckOp))


@pytest.mark.parametrize("op", PROBLEMS)
def test_every_op_accepts_the_answer_its_own_route_computes(api, op):
    answer = first_output(api.ok(op, PROBLEMS[op])["outputs"])
    result = api.ok("check", {"op": op, "problem": PROBLEMS[op], "answer": answer})
    schemas.CheckResponse.model_validate(result)
    assert result["correct"] is True, result["diagnosis"]
    assert result["wrong_cells"] == [] and result["mistake"] is None and result["first_wrong_term"] is None
    assert all(cell["step_id"] for cell in result["cells"])


def test_a_right_answer_lists_every_cell_with_its_step(api):
    result = api.ok("check", {"op": "conv2d", "problem": SEED, "answer": [[4, 0], [4, 3]]})
    assert result["correct"] and result["output"] == "output" and result["shape"] == [2, 2]
    assert result["cells"][1] == {"index": [0, 1], "given": 0, "expected": 0, "step_id": "output[0,1]",
                                  "correct": True}
    steps = api.ok("conv2d", SEED, step_id=result["cells"][1]["step_id"])["steps"]
    assert steps[0]["result"] == 0


def test_a_wrong_answer_is_a_200_with_its_wrong_cells_and_diagnosis(api):
    flipped = [[2, 0], [5, 0]]   # seed 000 worked with the kernel rotated 180° before sliding
    result = api.ok("check", {"op": "conv2d", "problem": SEED, "answer": flipped})
    assert result["correct"] is False
    assert result["mistake"] == "kernel_flipped"
    assert "cross-correlation" in result["diagnosis"]
    assert result["wrong_cells"] == [[0, 0], [1, 0], [1, 1]]


def test_an_unexplained_answer_gives_the_first_wrong_cells_terms(api):
    result = api.ok("check", {"op": "conv2d", "problem": SEED, "answer": [[4, 0], [4, 10]]})
    assert result["mistake"] is None and result["wrong_cells"] == [[1, 1]]
    first = result["first_wrong_term"]
    assert first["step_id"] == "output[1,1]" and first["given"] == 10 and first["expected"] == 3
    assert len(first["terms"]) == 9


def test_an_answer_typed_as_text_keeps_its_decimals(api):
    body = {"op": "dense", "problem": PROBLEMS["dense"], "answer": ["2.90"]}
    assert api.ok("check", body)["correct"] is True
    assert api.ok("check", {**body, "answer": ["2.95"]})["correct"] is False


def test_an_output_and_a_single_cell_can_be_chosen(api):
    problem = PROBLEMS["conv2d/backward"]
    grad_weight = api.ok("conv2d/backward", problem)["outputs"]["grad_weight"]
    result = api.ok("check", {"op": "conv2d/backward", "problem": problem, "answer": grad_weight,
                              "output": "grad_weight"})
    assert result["correct"] and result["output"] == "grad_weight"
    one = api.ok("check", {"op": "conv2d/backward", "problem": problem, "answer": grad_weight[1][2],
                           "output": "grad_weight", "cell": [1, 2]})
    assert one["correct"] and [c["step_id"] for c in one["cells"]] == ["grad_weight[1,2]"]


def test_an_answer_of_a_mistakes_shape_is_diagnosed_without_cells(api):
    problem = {"input": POOL, "kernel_size": 2}
    result = api.ok("check", {"op": "pool2d", "problem": problem,
                              "answer": [[6, 6, 9], [7, 8, 8], [7, 8, 8]]})
    assert result["mistake"] == "stride_misread" and result["cells"] == [] and result["shape"] == [2, 2]


def test_a_transposed_answer_is_a_diagnosis_not_an_error(api):
    problem = {"input": [4, 0, 4, 3], "weight": [[0.2, -0.5, 0.4, 0.1], [1, 0, 0, -1]], "grad_output": [2.9, -1]}
    grad_weight = api.ok("dense/backward", problem)["outputs"]["grad_weight"]   # (2, 4)
    turned = [list(column) for column in zip(*grad_weight)]
    result = api.ok("check", {"op": "dense/backward", "problem": problem, "answer": turned, "output": "grad_weight"})
    assert result["mistake"] == "transposed" and "Rows and columns are swapped" in result["diagnosis"]


def test_a_softmax_overflow_worked_by_hand_may_hold_nan(api, client):
    body = '{"op": "activation", "problem": {"input": [1000, 1, 2], "function": "softmax"}, "answer": [NaN, 0, 0]}'
    response = client.post("/api/v1/check", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["mistake"] == "softmax_overflow"
    assert result["cells"][0]["given"] == "NaN"


# --- a bad problem: the op route's own 422, under ['body', 'problem'] -----------------------------

@pytest.mark.parametrize("op, problem", [
    ("conv2d", {**SEED, "stride": 0}),
    ("conv2d", {**SEED, "stride": True}),
    ("conv2d", {"input": [[1, 2], [3, True]], "kernel": [[1]]}),
    ("conv2d", {"input": [[1, 2], [3]], "kernel": [[1]]}),
    ("conv2d", {"input": SEED["input"], "kernel": [[1, 2, 3, 4, 5]]}),
    ("conv2d", {"input": SEED["input"]}),
    ("conv2d", {**SEED, "kernal": [[1]]}),
    ("pool2d", {"input": POOL, "kernel_size": 2, "padding": 2}),
    ("loss", {"prediction": [0.2, 0.8], "target": 5, "kind": "cross_entropy"}),
    ("optimizer", {**PROBLEMS["optimizer"], "state": {"step": 1, "velocity": {"w": [1, 0, 1, "x"], "b": 0.5}}}),
    ("dense", {"input": [1, 2, 3], "weight": [[1, 2], [3, 4], [5, 6]]}),
    ("conv2d", {"input": [[1]], "kernel": [[1]], "padding": 5000}),   # over the padded-input budget
])
def test_a_bad_problem_is_refused_as_its_own_route_refuses_it(api, op, problem):
    own = api.refused(op, problem)
    checked = api.refused("check", {"op": op, "problem": problem, "answer": 1})
    assert [item["loc"] for item in checked] == [["body", "problem"] + item["loc"][1:] for item in own]
    assert [item["msg"] for item in checked] == [item["msg"] for item in own]


def test_a_dropout_problem_without_its_mask_or_seed_cannot_be_checked(api):
    locs = api.locs("check", {"op": "dropout", "problem": {"input": [1, 2], "p": 0.5}, "answer": [2, 0]})
    assert locs == [["body", "problem", "seed"]]


@pytest.mark.parametrize("body, loc", [
    ({"op": "conv3d", "problem": SEED, "answer": 1}, ["body", "op"]),
    ({"op": "conv2d", "problem": [1, 2], "answer": 1}, ["body", "problem"]),
    ({"op": "conv2d", "problem": SEED}, ["body", "answer"]),
    ({"op": "conv2d", "problem": SEED, "answer": 1, "extra": 1}, ["body", "extra"]),
    ({"op": "conv2d", "problem": SEED, "answer": 1, "cell": [0, True]}, ["body", "cell", 1]),
    ({"op": "conv2d", "problem": SEED, "answer": 1, "cell": [0, -1]}, ["body", "cell", 1]),
])
def test_a_malformed_request_names_its_field(api, body, loc):
    assert loc in api.locs("check", body)


# --- a malformed answer: 422 under ['body', 'answer'] -------------------------------------------

@pytest.mark.parametrize("answer, loc, words", [
    ([[4, 0], [4]], ["body", "answer", 1], "ragged"),
    ([[4, 0, 1], [4, 3, 1], [1, 1, 1]], ["body", "answer"], "2 rows of 2"),
    ([4, 0, 4, 3, 1], ["body", "answer"], "shape (2, 2)"),
    ([[4, 0], [4, "three"]], ["body", "answer", 1, 1], "not a number"),
    ([[4, 0], [True, 3]], ["body", "answer", 1, 0], "not a number"),
    ([[4, 0], [4, None]], ["body", "answer", 1, 1], "not a number"),
    ([[[[[4]]]]], ["body", "answer", 0, 0, 0, 0], "4 lists deep"),
])
def test_a_malformed_answer_is_refused_at_its_cell(api, answer, loc, words):
    detail = api.refused("check", {"op": "conv2d", "problem": SEED, "answer": answer})
    assert detail[0]["loc"] == loc
    assert words in detail[0]["msg"]


def test_a_nan_the_problem_cannot_explain_is_refused_at_its_cell(client):
    body = json.dumps({"op": "conv2d", "problem": SEED, "answer": [[4, 0], [4, 3]]}).replace("[4, 3]", "[4, NaN]")
    response = client.post("/api/v1/check", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "answer", 1, 1]


@pytest.mark.parametrize("extra, loc", [({"output": "grad"}, ["body", "output"]),
                                        ({"cell": [2, 0]}, ["body", "cell"]),
                                        ({"cell": [0]}, ["body", "cell"])])
def test_an_output_or_cell_the_op_does_not_have_is_refused(api, extra, loc):
    detail = api.refused("check", {"op": "conv2d", "problem": SEED, "answer": 1, **extra})
    assert detail[0]["loc"] == loc
