"""Practice problems: the same seed gives the same problem, the numbers suit a pencil, and the
answer key is the op's own output, which check_answer accepts."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import engine
from engine import EngineError, check_answer, practice
from engine.check import CHECKABLE
from engine.practice import DIFFICULTIES, PRACTICE_OPS, hint_steps, work

SEEDS = range(12)
CASES = [(op, level) for op in PRACTICE_OPS for level in DIFFICULTIES]
BRIEF_OPS = {"conv2d", "conv2d/backward", "conv1d", "conv1d/backward", "pool2d", "pool2d/backward", "dense",
             "dense/backward", "activation", "activation/backward", "loss", "output-size", "flatten", "optimizer",
             "batchnorm", "dropout"}
SETTINGS = {"eps", "lr", "p", "alpha", "weight_decay", "running_var", "stride", "padding", "dilation", "kernel_size",
            "input_size", "target"}
"""Fields that are not a tensor of the problem's numbers: whole-number sizes, rates and probabilities."""


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _numbers(v)]
    if isinstance(value, bool) or isinstance(value, str):
        return []
    return [float(value)]


def _tensors(problem: dict[str, Any]) -> dict[str, list[float]]:
    return {name: _numbers(value) for name, value in problem.items() if name not in SETTINGS}


def _decimals(value: float) -> int:
    for places in range(6):
        if abs(round(value, places) - value) < 1e-9:
            return places
    return 6


# --- the op's own answer, by calling the engine's public functions ---------------------------------

def _opts(p: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: p[n] for n in names if n in p}


CONV = ("stride", "padding", "dilation", "groups", "mode")
POOL = ("kind", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
DIRECT = {
    "conv2d": lambda p: engine.conv2d(p["input"], p["kernel"], p.get("bias"), **_opts(p, *CONV)).outputs["output"],
    "conv2d/backward": lambda p: engine.conv2d_backward(p["input"], p["kernel"], p["grad_output"], p.get("bias"),
                                                        **_opts(p, *CONV)).outputs["grad_input"],
    "conv1d": lambda p: engine.conv1d(p["input"], p["kernel"], p.get("bias"), **_opts(p, *CONV)).outputs["output"],
    "conv1d/backward": lambda p: engine.conv1d_backward(p["input"], p["kernel"], p["grad_output"], p.get("bias"),
                                                        **_opts(p, *CONV)).outputs["grad_input"],
    "pool2d": lambda p: engine.pool2d(p["input"], **_opts(p, *POOL)).outputs["output"],
    "pool2d/backward": lambda p: engine.pool2d_backward(p["input"], p["grad_output"],
                                                        **_opts(p, *POOL)).outputs["grad_input"],
    "im2col": lambda p: engine.im2col(p["input"], **_opts(p, "kernel_size", "stride", "padding",
                                                         "dilation")).outputs["columns"],
    "output-size": lambda p: engine.output_size(p["input_size"], p["kernel_size"], **_opts(
        p, "stride", "padding", "dilation", "ceil_mode")).outputs["output_size"],
    "activation": lambda p: engine.activation(p["input"], **_opts(p, "function", "alpha")).outputs["output"],
    "activation/backward": lambda p: engine.activation_backward(p["input"], p["grad_output"],
                                                                **_opts(p, "function", "alpha")).outputs["grad_input"],
    "dense": lambda p: engine.dense(p["input"], p["weight"], p.get("bias")).outputs["output"],
    "dense/backward": lambda p: engine.dense_backward(p["input"], p["weight"], p["grad_output"],
                                                      p.get("bias")).outputs["grad_input"],
    "flatten": lambda p: engine.flatten(p["input"]).outputs["output"],
    "loss": lambda p: engine.loss(p["prediction"], p["target"], **_opts(p, "kind", "reduction")).outputs["loss"],
    "optimizer": lambda p: engine.optimizer_step(p["params"], p["grads"], **_opts(
        p, "kind", "lr", "weight_decay")).outputs["params"]["w"],
    "batchnorm": lambda p: engine.batchnorm(p["input"], p.get("gamma"), p.get("beta"), **_opts(
        p, "eps", "training", "running_mean", "running_var")).outputs["output"],
    "batchnorm/backward": lambda p: engine.batchnorm_backward(p["input"], p.get("gamma"), p.get("beta"),
                                                              p["grad_output"], eps=p["eps"]).outputs["grad_input"],
    "dropout": lambda p: engine.dropout(p["input"], **_opts(p, "p", "mask", "variant", "training")).outputs["output"],
}


# --- the ops ---------------------------------------------------------------------------------------

def test_every_op_check_answer_takes_has_practice_problems():
    assert set(PRACTICE_OPS) == set(CHECKABLE)
    assert BRIEF_OPS <= set(PRACTICE_OPS)
    assert engine.practice is practice


def test_practice_returns_the_problem_its_answer_and_how_it_was_drawn():
    drawn = practice("conv2d", seed=11)
    assert set(drawn) == {"op", "difficulty", "seed", "prompt", "problem", "output", "answer"}
    assert (drawn["op"], drawn["difficulty"], drawn["seed"], drawn["output"]) == ("conv2d", "easy", 11, "output")
    assert drawn["problem"] == {"input": [[4, 1, 2], [2, 3, -3], [1, -2, 0]], "kernel": [[2, 0], [-2, 0]]}
    assert drawn["answer"] == [[4.0, -4.0], [2.0, 10.0]]
    assert drawn["prompt"].endswith(".") and "3×3 input" in drawn["prompt"] and "2×2 kernel" in drawn["prompt"]


@pytest.mark.parametrize("op,level", CASES)
def test_the_same_seed_and_difficulty_give_the_same_problem(op, level):
    first = [practice(op, seed=seed, difficulty=level) for seed in SEEDS]
    np.random.seed(123)          # global random state plays no part
    np.random.random(10)
    again = [practice(op, seed=seed, difficulty=level) for seed in reversed(SEEDS)][::-1]
    assert json.dumps(first) == json.dumps(again)


@pytest.mark.parametrize("op,level", CASES)
def test_different_seeds_give_different_problems(op, level):
    problems = {json.dumps(practice(op, seed=seed, difficulty=level)["problem"], sort_keys=True) for seed in SEEDS}
    assert len(problems) >= len(SEEDS) - 2


@pytest.mark.parametrize("op", PRACTICE_OPS)
def test_difficulties_differ_for_the_same_seed(op):
    problems = {json.dumps(practice(op, seed=5, difficulty=level)["problem"], sort_keys=True) for level in DIFFICULTIES}
    assert len(problems) == 3


@pytest.mark.parametrize("op,level", CASES)
def test_numbers_are_small_enough_to_work_by_hand(op, level):
    for seed in SEEDS:
        problem = practice(op, seed=seed, difficulty=level)["problem"]
        for name, numbers in _tensors(problem).items():
            assert all(abs(v) <= 25 for v in numbers), (name, numbers)
            assert all(_decimals(v) <= 1 for v in numbers), (name, numbers)
            if level == "easy":
                assert all(float(v).is_integer() and -3 <= v <= 16 for v in numbers), (name, numbers)
        for value in _numbers({k: v for k, v in problem.items() if k in SETTINGS and k != "eps"}):
            assert abs(value) <= 64 and _decimals(value) <= 2, (problem, value)


@pytest.mark.parametrize("op", [op for op in PRACTICE_OPS if op != "output-size"])   # sizes are whole numbers
def test_medium_problems_have_numbers_with_one_decimal(op):
    decimals = [_decimals(v) for seed in SEEDS
                for numbers in _tensors(practice(op, seed=seed, difficulty="medium")["problem"]).values()
                for v in numbers]
    assert max(decimals) == 1


@pytest.mark.parametrize("op,level", CASES)
def test_every_cell_of_the_answer_has_at_most_18_terms(op, level):
    for seed in SEEDS:
        drawn = practice(op, seed=seed, difficulty=level)
        trace = work(op, drawn["problem"])
        assert np.size(drawn["answer"]) <= 36
        for i in hint_steps(trace, drawn["output"]):
            step = trace.steps[i]
            if step.target is not None and step.target[0] == drawn["output"]:
                assert len(step.terms) <= 18, (seed, step.id, len(step.terms))


@pytest.mark.parametrize("op,level", CASES)
def test_the_answer_is_the_ops_own_output(op, level):
    for seed in SEEDS:
        drawn = practice(op, seed=seed, difficulty=level)
        expected = np.asarray(DIRECT[op](drawn["problem"]), dtype=float)
        answer = np.asarray(drawn["answer"], dtype=float)
        assert answer.shape == expected.shape
        np.testing.assert_array_equal(answer, expected)


@pytest.mark.parametrize("op,level", CASES)
def test_check_answer_accepts_the_key_and_refuses_a_changed_cell(op, level):
    for seed in SEEDS:
        drawn = practice(op, seed=seed, difficulty=level)
        result = check_answer(op, drawn["problem"], drawn["answer"])
        assert result.correct, (seed, result.diagnosis)
        assert result.output == drawn["output"]
        wrong = np.array(drawn["answer"], dtype=float)
        wrong.flat[0] += 1
        assert not check_answer(op, drawn["problem"], wrong.tolist()).correct


@pytest.mark.parametrize("op,level", CASES)
def test_the_answer_to_three_significant_figures_is_right(op, level):
    """The prompts ask for 3 significant figures where the answer is not a whole number."""
    for seed in SEEDS:
        drawn = practice(op, seed=seed, difficulty=level)
        written = np.array([f"{v:#.3g}" for v in np.ravel(drawn["answer"])], dtype=object)
        answer = written.reshape(np.shape(drawn["answer"])).tolist()
        assert check_answer(op, drawn["problem"], answer).correct, (seed, answer)


@pytest.mark.parametrize("op,level", CASES)
def test_hints_are_the_steps_that_work_out_the_answer(op, level):
    drawn = practice(op, seed=3, difficulty=level)
    trace = work(op, drawn["problem"])
    hints = hint_steps(trace, drawn["output"])
    assert hints == sorted(set(hints)) and hints
    last = trace.steps[hints[-1]]
    assert last.target is not None and last.target[0] == drawn["output"]
    writes = {trace.steps[i].target[1] for i in hints
              if trace.steps[i].target is not None and trace.steps[i].target[0] == drawn["output"]}
    assert len(writes) == max(1, int(np.size(drawn["answer"]))) or op == "im2col"


def test_dense_backward_hints_leave_out_the_weight_gradient():
    drawn = practice("dense/backward", seed=2)
    trace = work("dense/backward", drawn["problem"])
    ids = [trace.steps[i].id for i in hint_steps(trace, "grad_input")]
    assert ids and all(i.startswith("grad_input") for i in ids)


def test_hard_problems_use_a_stride_padding_bias_channel_or_harder_rule():
    hard = [practice("conv2d", seed=seed, difficulty="hard")["problem"] for seed in SEEDS]
    assert all("bias" in p for p in hard)
    assert any(p.get("stride") == 2 for p in hard) and any(np.ndim(p["input"]) == 3 for p in hard)
    assert any(p.get("mode") == "convolution" for p in hard)


# --- refusals --------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["nope", "network", "", "conv3d"])
def test_an_op_without_problems_is_refused_with_the_list(op):
    with pytest.raises(EngineError) as error:
        practice(op, seed=1)
    assert error.value.argument == "op" and "conv2d/backward" in error.value.problem


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "3", True, None])
def test_a_seed_outside_0_to_2_to_the_32_is_refused(seed):
    with pytest.raises(EngineError) as error:
        practice("conv2d", seed=seed)
    assert error.value.argument == "seed"


def test_the_largest_seed_works_and_trace_names_are_read_too():
    assert practice("conv2d", seed=2**32 - 1)["seed"] == 2**32 - 1
    assert practice("conv2d_backward", seed=1)["op"] == "conv2d/backward"


@pytest.mark.parametrize("level", ["Easy", "expert", ""])
def test_an_unknown_difficulty_is_refused(level):
    with pytest.raises(EngineError) as error:
        practice("conv2d", seed=1, difficulty=level)
    assert error.value.argument == "difficulty"
