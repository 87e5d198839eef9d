"""JSON API: dropout."""

from __future__ import annotations

import numpy as np
import pytest

from app.limits import MAX_SEED
from app.schemas import DropoutTrace

X = [[1, 2], [3, 4]]


def test_dropout_with_a_seed_draws_the_documented_mask(api):
    trace = api.ok("dropout", {"input": X, "p": 0.5, "seed": 0})
    expected = (np.random.default_rng(0).random((2, 2)) >= 0.5).astype(float)
    assert trace["outputs"]["mask"] == expected.tolist() == [[1, 0], [0, 0]]
    assert trace["outputs"]["output"] == [[2, 0], [0, 0]]   # kept cells divided by 1 − p
    assert trace["params"] == {"p": 0.5, "variant": "inverted", "training": True, "seed": 0}
    assert trace["steps"][0]["expansion"] == r"y_{1,1} = 1 \cdot 1 \cdot \frac{1}{1 - 0.5} = 2"
    assert trace["steps"][0]["kind"] == "elementwise"
    DropoutTrace.model_validate(trace)


@pytest.mark.parametrize("seed", [0, 7, MAX_SEED])
def test_dropout_with_a_seed_is_deterministic(api, seed):
    body = {"input": [[1] * 8] * 8, "p": 0.3, "seed": seed}
    first, second = api.ok("dropout", body), api.ok("dropout", body)
    assert first["outputs"] == second["outputs"]
    assert first["steps"] == second["steps"]
    expected = np.random.default_rng(seed).random((8, 8)) >= 0.3
    assert np.array_equal(np.array(first["outputs"]["mask"]) == 1, expected)


def test_dropout_without_a_seed_returns_the_seed_it_drew(api):
    body = {"input": [[1] * 8] * 8, "p": 0.5}
    drawn = api.ok("dropout", body)
    seed = drawn["params"]["seed"]
    assert isinstance(seed, int) and 0 <= seed <= MAX_SEED
    again = api.ok("dropout", {**body, "seed": seed})
    assert again["outputs"] == drawn["outputs"]


@pytest.mark.parametrize("variant, training, output", [
    ("inverted", True, [[2, 0], [0, 8]]),
    ("classic", True, [[1, 0], [0, 4]]),
    ("inverted", False, [[1, 2], [3, 4]]),
    ("classic", False, [[0.5, 1], [1.5, 2]]),
])
def test_dropout_variants_scale_in_training_or_in_evaluation(api, variant, training, output):
    body = {"input": X, "p": 0.5, "variant": variant, "training": training}
    if training:
        body["mask"] = [[1, 0], [0, 1]]
    trace = api.ok("dropout", body)
    assert trace["outputs"]["output"] == output
    assert trace["outputs"]["mask"] == ([[1, 0], [0, 1]] if training else [[1, 1], [1, 1]])
    assert trace["params"]["seed"] is None
    DropoutTrace.model_validate(trace)


def test_p_zero_keeps_everything(api):
    trace = api.ok("dropout", {"input": X, "p": 0, "seed": 3})
    assert trace["outputs"]["output"] == X


# --- refusals -------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [1, 1.0, 1.5, -0.1])
def test_p_must_be_at_least_zero_and_below_one(api, p):
    detail = api.refused("dropout", {"input": X, "p": p, "seed": 0})
    assert [d["loc"] for d in detail] == [["body", "p"]]
    assert detail[0]["msg"] == f"must be at least 0 and below 1, got {p}"


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 1.5, True, "1"])
def test_a_seed_must_be_a_whole_number_in_range(api, seed):
    assert api.locs("dropout", {"input": X, "p": 0.5, "seed": seed}) == [["body", "seed"]]


def test_a_mask_and_a_seed_together_are_refused(api):
    detail = api.refused("dropout", {"input": X, "p": 0.5, "seed": 1, "mask": [[1, 0], [0, 1]]})
    assert [d["loc"] for d in detail] == [["body", "seed"]]


@pytest.mark.parametrize("mask, loc", [([[1, 0], [0, 0.5]], ["body", "mask", 1, 1]), ([1, 0, 0, 1], ["body", "mask"]),
                                       ([[1, 0], [0, True]], ["body", "mask", 1, 1])])
def test_a_mask_must_be_zeros_and_ones_in_the_inputs_shape(api, mask, loc):
    assert api.locs("dropout", {"input": X, "p": 0.5, "mask": mask}) == [loc]


def test_a_mask_in_evaluation_mode_is_refused(api):
    body = {"input": X, "p": 0.5, "mask": [[1, 0], [0, 1]], "training": False}
    assert api.locs("dropout", body) == [["body", "mask"]]


@pytest.mark.parametrize("variant", ["standard", "INVERTED", 1])
def test_an_unknown_variant_is_refused(api, variant):
    assert api.locs("dropout", {"input": X, "p": 0.5, "variant": variant}) == [["body", "variant"]]
