"""dropout: the mask from a seed or given, inverted and classic scaling, training and evaluation.

A drawn mask keeps a cell where numpy.random.default_rng(seed).random(shape) >= p.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import EngineError, dropout

FAST = settings(max_examples=30, deadline=None)
X = np.array([[3.0, -1.0, 2.0], [4.0, 0.5, -6.0]])
MASK = [[1, 0, 1], [0, 1, 1]]


def test_the_same_seed_draws_the_same_mask_and_different_seeds_differ():
    x = np.ones((40, 50))
    first = dropout(x, p=0.5, seed=123).outputs["mask"]
    again = dropout(x, p=0.5, seed=123).outputs["mask"]
    other = dropout(x, p=0.5, seed=124).outputs["mask"]
    np.testing.assert_array_equal(first, again)
    assert (first != other).sum() > 500


def test_the_drawn_mask_keeps_where_the_uniform_draw_is_at_least_p():
    trace = dropout(X, p=0.3, seed=5)
    expected = (np.random.default_rng(5).random(X.shape) >= 0.3).astype(float)
    np.testing.assert_array_equal(trace.outputs["mask"], expected)
    assert trace.params == {"p": 0.3, "variant": "inverted", "training": True, "seed": 5}


def test_without_mask_or_seed_a_seed_is_drawn_recorded_and_reproduces_the_mask():
    trace = dropout(np.ones((10, 10)), p=0.5)
    seed = trace.params["seed"]
    assert isinstance(seed, int) and seed >= 0
    again = dropout(np.ones((10, 10)), p=0.5, seed=seed)
    np.testing.assert_array_equal(trace.outputs["mask"], again.outputs["mask"])
    assert any(f"seed {seed} was drawn" in note for note in trace.notes)


def test_inverted_dropout_scales_kept_cells_by_one_over_one_minus_p():
    trace = dropout(X, p=0.5, mask=MASK)
    np.testing.assert_allclose(trace.outputs["output"], [[6.0, 0.0, 4.0], [0.0, 1.0, -12.0]])
    step = trace.steps.by_id("output[0,0]")
    assert step.expansion == r"y_{1,1} = 3 \cdot 1 \cdot \frac{1}{1 - 0.5} = 6"
    assert step.title == "Output y(1,1)"
    assert "kept" in step.message
    dropped = trace.steps.by_id("output[0,1]")
    assert dropped.expansion == r"y_{1,2} = (-1) \cdot 0 \cdot \frac{1}{1 - 0.5} = 0"
    assert "dropped" in dropped.message


def test_classic_dropout_leaves_kept_cells_unscaled_while_training():
    trace = dropout(X, p=0.5, mask=MASK, variant="classic")
    np.testing.assert_allclose(trace.outputs["output"], X * np.array(MASK))
    assert trace.steps.by_id("output[1,2]").expansion == r"y_{2,3} = (-6) \cdot 1 = -6"


@pytest.mark.parametrize("variant, scale", [("inverted", 1.0), ("classic", 0.75)])
def test_evaluation_mode_drops_nothing_and_scales_only_classic_dropout(variant, scale):
    trace = dropout(X, p=0.25, variant=variant, training=False)
    np.testing.assert_allclose(trace.outputs["output"], X * scale)
    np.testing.assert_array_equal(trace.outputs["mask"], np.ones_like(X))
    assert trace.params["seed"] is None
    assert any("mask is all ones" in note for note in trace.notes)
    assert all("Evaluation mode" in step.message for step in trace.steps)


def test_classic_evaluation_step_shows_the_factor_one_minus_p():
    step = dropout(X, p=0.25, variant="classic", training=False).steps[0]
    assert step.expansion == r"y_{1,1} = 3 \cdot (1 - 0.25) = 2.25"


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_the_keep_rate_on_a_large_input_is_one_minus_p(p):
    mask = dropout(np.ones((200, 200)), p=p, seed=2024).outputs["mask"]
    assert abs(mask.mean() - (1 - p)) < 0.01   # the standard error is at most 0.0025


def test_inverted_dropout_keeps_the_mean_on_a_large_input():
    out = dropout(np.ones((200, 200)), p=0.6, seed=1).outputs["output"]
    assert abs(out.mean() - 1.0) < 0.03


def test_p_zero_keeps_every_cell():
    trace = dropout(X, p=0, seed=3)
    np.testing.assert_array_equal(trace.outputs["output"], X)


def test_a_boolean_mask_array_is_read_as_keep_and_drop():
    trace = dropout(X, p=0.5, mask=np.array(MASK, dtype=bool), variant="classic")
    np.testing.assert_allclose(trace.outputs["output"], X * np.array(MASK))


def test_a_bad_mask_cell_is_reported_with_its_location():
    with pytest.raises(EngineError) as info:
        dropout(X, p=0.5, mask=[[1, 0, 1], [0, 1, 0.5]])
    assert info.value.argument == "mask"
    assert info.value.location == (1, 2)
    assert "0.5 at row 2, column 3" in info.value.problem


BAD = [
    ("p", dict(p=1.0), "drop every cell"),
    ("p", dict(p=-0.1), "at least 0"),
    ("p", dict(p=1.5), "below 1"),
    ("p", dict(p="half"), "not a number"),
    ("variant", dict(p=0.5, variant="gaussian"), "'gaussian' is not a dropout variant"),
    ("mask", dict(p=0.5, mask=[[1, 0], [0, 1]]), "input's shape"),
    ("mask", dict(p=0.5, mask=MASK, training=False), "evaluation mode"),
    ("seed", dict(p=0.5, mask=MASK, seed=1), "not both"),
    ("seed", dict(p=0.5, seed=-1), "0 or more"),
    ("seed", dict(p=0.5, seed=1.5), "not a whole number"),
    ("input", dict(p=0.5, x=5.0), "expected 1 or 2 or 3 or 4 dimensions"),
]


@pytest.mark.parametrize("argument, call, words", BAD, ids=[f"{a}-{w}" for a, _, w in BAD])
def test_bad_input_is_refused_naming_the_argument(argument, call, words):
    with pytest.raises(EngineError) as info:
        dropout(call.pop("x", X), **call)
    assert info.value.argument == argument
    assert words in info.value.problem


@st.composite
def dropout_problems(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return dict(x=rng.standard_normal(shape), p=draw(st.sampled_from([0.0, 0.2, 0.5, 0.9])),
                seed=draw(st.integers(0, 2**31 - 1)), variant=draw(st.sampled_from(["inverted", "classic"])),
                training=draw(st.booleans()))


@FAST
@given(dropout_problems())
def test_any_shape_matches_the_definition_and_the_steps_rebuild_the_output(case):
    trace = dropout(case["x"], p=case["p"], seed=case["seed"], variant=case["variant"], training=case["training"])
    p, x = case["p"], case["x"]
    if case["training"]:
        mask = (np.random.default_rng(case["seed"]).random(x.shape) >= p).astype(float)
        expected = x * mask / (1 - p) if case["variant"] == "inverted" else x * mask
    else:
        mask = np.ones_like(x)
        expected = x if case["variant"] == "inverted" else x * (1 - p)
    np.testing.assert_array_equal(trace.outputs["mask"], mask)
    np.testing.assert_allclose(trace.outputs["output"], expected, rtol=1e-12, atol=1e-15)
    rebuilt = trace.evaluate()
    assert set(rebuilt) == {"output"}
    np.testing.assert_array_equal(rebuilt["output"], trace.outputs["output"])
    assert len(trace.steps) == x.size
    assert trace.steps.position(trace.steps[-1].id) == x.size - 1


def test_the_callers_input_and_mask_are_never_modified():
    x = X.copy()
    mask = np.array(MASK, dtype=float)
    trace = dropout(x, p=0.5, mask=mask)
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(mask, MASK)
    assert trace.outputs["output"] is not x
